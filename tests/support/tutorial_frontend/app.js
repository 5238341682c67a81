// The pages of the tutorial's front end: /register, /login (with the second-factor step
// authapi adds), /profile behind RequireUser, a header that knows the user, toasts with
// the API's messages. React Router's <Navigate> is history.pushState here.
(function () {
  const state = { user: null, mfaToken: null };
  const view = document.getElementById("view");
  const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);

  window.addEventListener("app:logout", () => {
    state.user = null; // the userSlice's logout()
    render();
  });

  // The tutorial's toast: each field error of a validation failure, else data.message.
  function toast(error) {
    let text;
    if (!error.data || typeof error.data !== "object") {
      text = `Network error (${error.status})`;
    } else if (error.data.errors) {
      text = Object.values(error.data.errors).flat().join(" ");
    } else {
      text = error.data.message;
    }
    if (error.retryAfter) text += ` (retry in ${error.retryAfter} s)`;
    byTestId("message").textContent = text;
  }

  function say(text) {
    byTestId("message").textContent = text;
  }

  async function getMe() {
    byTestId("loader").hidden = false;
    const result = await api.getMe();
    byTestId("loader").hidden = true;
    state.user = result.data ? result.data.data.user : null;
    render();
    return result;
  }

  function navigate(path) {
    history.pushState({}, "", path);
    route();
  }

  function render() {
    const user = state.user;
    byTestId("auth-state").textContent = user ? `Logged in as ${user.name} <${user.email}>` : "Logged out";
    byTestId("logout").hidden = !user;
    byTestId("profile-link").hidden = !Cookies.get("logged_in");
    const profile = document.querySelector("[data-testid=profile]");
    if (profile && user) {
      byTestId("profile-name").textContent = user.name;
      byTestId("profile-email").textContent = user.email;
      byTestId("profile-role").textContent = user.role;
    }
  }

  function form(html, onSubmit) {
    view.innerHTML = html;
    view.querySelector("form").addEventListener("submit", (event) => {
      event.preventDefault();
      onSubmit(Object.fromEntries(new FormData(event.target)));
    });
  }

  function loginPage() {
    form(
      `<form data-testid="login-form">
         <input id="login-email" name="email" type="email" />
         <input id="login-password" name="password" type="password" />
         <button data-testid="login-submit">Login</button>
       </form>`,
      async (body) => {
        const result = await api.loginUser(body);
        if (result.error) {
          if (result.error.status === 403 && result.error.data && result.error.data.code === "mfa_required") {
            state.mfaToken = result.error.data.mfa_token;
            return mfaPage();
          }
          return toast(result.error);
        }
        say("You successfully logged in");
        await getMe();
        navigate("/profile");
      }
    );
  }

  function mfaPage() {
    form(
      `<form data-testid="mfa-form">
         <input id="mfa-code" name="code" inputmode="numeric" />
         <button data-testid="mfa-submit">Verify</button>
       </form>`,
      async ({ code }) => {
        // Six digits from the app, or one of the recovery codes.
        const proof = /^\d{6}$/.test(code) ? { code } : { recovery_code: code };
        const result = await api.loginMfa({ mfa_token: state.mfaToken, ...proof });
        if (result.error) return toast(result.error);
        state.mfaToken = null;
        say("You successfully logged in");
        await getMe();
        navigate("/profile");
      }
    );
    say("Enter the code from your authenticator app");
  }

  function registerPage() {
    form(
      `<form data-testid="register-form">
         <input id="register-name" name="name" />
         <input id="register-email" name="email" type="email" />
         <input id="register-password" name="password" type="password" />
         <input id="register-password-confirm" name="passwordConfirm" type="password" />
         <button data-testid="register-submit">Sign Up</button>
       </form>`,
      async (body) => {
        const result = await api.registerUser(body);
        if (result.error) return toast(result.error);
        say("User registered successfully");
        navigate("/login");
      }
    );
  }

  // RequireUser: always asks who we are (refetchOnMountOrArgChange), then shows the
  // page or sends the visitor to /login.
  async function profilePage() {
    view.innerHTML = "";
    await getMe();
    if (!state.user) return navigate("/login");
    view.innerHTML = `<section data-testid="profile">
        <p data-testid="profile-name"></p><p data-testid="profile-email"></p>
        <p data-testid="profile-role"></p>
        <button data-testid="refetch-me">Refresh profile</button>
      </section>`;
    byTestId("refetch-me").addEventListener("click", async () => {
      const result = await getMe();
      if (result.error) toast(result.error);
      if (!state.user) navigate("/login");
    });
    render();
  }

  async function route() {
    const path = location.pathname;
    if (path === "/login") loginPage();
    else if (path === "/register") registerPage();
    else if (path === "/profile") await profilePage();
    else view.innerHTML = `<p data-testid="home">Welcome</p>`;
    render();
  }

  byTestId("logout").addEventListener("click", async () => {
    const result = await api.logoutUser();
    if (result.error) return toast(result.error);
    window.location.href = "/login";
  });

  window.addEventListener("popstate", route);

  async function start() {
    // AuthMiddleware: who we are, if the logged_in cookie says we are someone.
    if (location.pathname !== "/profile" && Cookies.get("logged_in")) await getMe();
    await route();
    document.body.dataset.ready = "true";
  }
  start();
})();
