// The Mutex of the async-mutex package, as the re-auth base query uses it: acquire()
// takes the lock at once when it is free (isLocked() is true right after the call),
// release() hands it to the next waiter, waitForUnlock() waits without taking it.
window.Mutex = class Mutex {
  constructor() {
    this.locked = false;
    this.waiting = [];
    this.unlockWaiters = [];
  }

  isLocked() {
    return this.locked;
  }

  acquire() {
    return new Promise((resolve) => {
      const grant = () => {
        this.locked = true;
        resolve(() => this.release());
      };
      if (this.locked) this.waiting.push(grant);
      else grant();
    });
  }

  release() {
    const next = this.waiting.shift();
    if (next) {
      next();
      return;
    }
    this.locked = false;
    const waiters = this.unlockWaiters;
    this.unlockWaiters = [];
    waiters.forEach((resolve) => resolve());
  }

  waitForUnlock() {
    return this.locked ? new Promise((resolve) => this.unlockWaiters.push(resolve)) : Promise.resolve();
  }
};
