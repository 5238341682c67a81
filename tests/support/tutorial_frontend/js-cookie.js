// js-cookie's Cookies.get, as the tutorial's front end reads the logged_in flag.
window.Cookies = {
  get(name) {
    for (const part of document.cookie ? document.cookie.split("; ") : []) {
      const index = part.indexOf("=");
      if (decodeURIComponent(part.slice(0, index)) === name) {
        return decodeURIComponent(part.slice(index + 1));
      }
    }
    return undefined;
  },
  remove(name) {
    document.cookie = `${encodeURIComponent(name)}=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT`;
  },
};
