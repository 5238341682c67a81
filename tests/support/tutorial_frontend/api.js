// The API calls of the tutorial's front end, in two flavours chosen by
// window.FRONTEND_CLIENT: "rtk" (RTK Query with the re-auth base query) or "axios"
// (an axios instance with a response interceptor). Both answer {data} or
// {error: {status, data}}, as RTK Query hooks do.
(function () {
  const SERVER = window.REACT_APP_SERVER_ENDPOINT;
  const NOT_LOGGED_IN = "You are not logged in";

  // What both articles do when the refresh fails: forget the user, go to the login page.
  function onRefreshFailed() {
    window.dispatchEvent(new Event("app:logout"));
    window.location.href = "/login";
  }

  function rtkClient() {
    const baseQuery = RTK.fetchBaseQuery({ baseUrl: `${SERVER}/api/`, credentials: "include" });
    const reauth = RTK.customFetchBase(baseQuery, { onRefreshFailed });
    // What a component reads of an error's meta: the Retry-After of a 429 or 503.
    const query = async (args) => {
      const result = await reauth(args);
      if (result.error && result.meta) result.error.retryAfter = result.meta.response.headers.get("Retry-After");
      return result;
    };
    return {
      getMe: () => query({ url: "users/me" }),
      loginUser: (body) => query({ url: "auth/login", method: "POST", body }),
      loginMfa: (body) => query({ url: "auth/login/mfa", method: "POST", body }),
      registerUser: (body) => query({ url: "auth/register", method: "POST", body }),
      logoutUser: () => query({ url: "auth/logout" }),
    };
  }

  function axiosClient() {
    const authApi = axios.create({ baseURL: `${SERVER}/api/`, withCredentials: true });
    const mutex = new Mutex();
    const refreshAccessTokenFn = async () => (await authApi.get("auth/refresh")).data;

    authApi.interceptors.response.use(
      (response) => response,
      async (error) => {
        const originalRequest = error.config;
        const errMessage = error.response && error.response.data && error.response.data.message;
        if (error.response && error.response.status === 401 && errMessage === NOT_LOGGED_IN && !originalRequest._retry) {
          originalRequest._retry = true;
          if (!mutex.isLocked()) {
            const release = await mutex.acquire();
            try {
              await refreshAccessTokenFn();
            } catch (_) {
              onRefreshFailed();
              return Promise.reject(error);
            } finally {
              release();
            }
          } else {
            await mutex.waitForUnlock();
          }
          return authApi(originalRequest);
        }
        return Promise.reject(error);
      }
    );

    const call = async (config) => {
      try {
        return { data: (await authApi(config)).data };
      } catch (error) {
        return error.response
          ? { error: { status: error.response.status, data: error.response.data, retryAfter: error.response.headers["retry-after"] } }
          : { error: { status: "FETCH_ERROR", error: error.message } };
      }
    };
    return {
      getMe: () => call({ url: "users/me" }),
      loginUser: (data) => call({ url: "auth/login", method: "post", data }),
      loginMfa: (data) => call({ url: "auth/login/mfa", method: "post", data }),
      registerUser: (data) => call({ url: "auth/register", method: "post", data }),
      logoutUser: () => call({ url: "auth/logout" }),
    };
  }

  window.api = window.FRONTEND_CLIENT === "axios" ? axiosClient() : rtkClient();
})();
