// RTK Query's fetchBaseQuery (its default response handling and error shapes) and the
// re-auth base query of "React.js + Redux Toolkit: Refresh Tokens Authentication".
(function () {
  function fetchBaseQuery({ baseUrl, credentials }) {
    return async function baseQuery(args) {
      const { url, method = "GET", body, headers = {}, ...rest } =
        typeof args === "string" ? { url: args } : args;
      const init = { method, credentials: rest.credentials || credentials, headers: { ...headers } };
      if (body !== undefined) {
        init.headers["content-type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      let response;
      try {
        response = await fetch(baseUrl + url, init);
      } catch (error) {
        return { error: { status: "FETCH_ERROR", error: String(error) } };
      }
      const text = await response.text();
      let data;
      try {
        data = text.length ? JSON.parse(text) : null;
      } catch (error) {
        return {
          error: { status: "PARSING_ERROR", originalStatus: response.status, data: text, error: String(error) },
          meta: { response },
        };
      }
      return response.status >= 200 && response.status <= 299
        ? { data, meta: { response } }
        : { error: { status: response.status, data }, meta: { response } };
    };
  }

  // const mutex = new Mutex();  (one per page: every concurrent request shares it)
  const mutex = new Mutex();

  function customFetchBase(baseQuery, { onRefreshFailed }) {
    return async function (args) {
      // wait until the mutex is available without locking it
      await mutex.waitForUnlock();
      let result = await baseQuery(args);
      if (result.error && result.error.status === 401 && (result.error.data || {}).message === "You are not logged in") {
        if (!mutex.isLocked()) {
          const release = await mutex.acquire();
          try {
            const refreshResult = await baseQuery({ url: "auth/refresh" });
            if (refreshResult.data) {
              // Retry the initial query
              result = await baseQuery(args);
            } else {
              onRefreshFailed();
            }
          } finally {
            release();
          }
        } else {
          // wait until the mutex is available without locking it
          await mutex.waitForUnlock();
          result = await baseQuery(args);
        }
      }
      return result;
    };
  }

  window.RTK = { fetchBaseQuery, customFetchBase };
})();
