// The part of axios a tutorial front end uses: an instance with baseURL and
// withCredentials over XMLHttpRequest, 2xx resolves, anything else rejects with
// error.response ({status, data, headers}); no answer at all (a CORS refusal, a network
// error) rejects with "Network Error" and no error.response. Response interceptors run
// in order, and the instance is callable again with a config (a retry).
(function () {
  function parseHeaders(raw) {
    const headers = {};
    for (const line of raw.trim().split(/[\r\n]+/)) {
      const index = line.indexOf(":");
      if (index > 0) headers[line.slice(0, index).trim().toLowerCase()] = line.slice(index + 1).trim();
    }
    return headers;
  }

  function send(defaults, config) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open((config.method || "get").toUpperCase(), defaults.baseURL + config.url, true);
      xhr.withCredentials = config.withCredentials ?? defaults.withCredentials;
      xhr.setRequestHeader("Accept", "application/json, text/plain, */*");
      let body = null;
      if (config.data !== undefined) {
        xhr.setRequestHeader("Content-Type", "application/json");
        body = JSON.stringify(config.data);
      }
      xhr.onloadend = () => {
        if (xhr.status === 0) {
          const error = new Error("Network Error");
          error.code = "ERR_NETWORK";
          error.config = config;
          reject(error);
          return;
        }
        let data = xhr.responseText;
        try {
          data = JSON.parse(data);
        } catch (_) {
          // axios keeps a body that is not JSON as text
        }
        const response = { data, status: xhr.status, headers: parseHeaders(xhr.getAllResponseHeaders()), config };
        if (xhr.status >= 200 && xhr.status < 300) {
          resolve(response);
        } else {
          const error = new Error(`Request failed with status code ${xhr.status}`);
          error.config = config;
          error.response = response;
          reject(error);
        }
      };
      xhr.send(body);
    });
  }

  function create(defaults) {
    const interceptors = [];
    const instance = (config) =>
      interceptors.reduce((promise, [onFulfilled, onRejected]) => promise.then(onFulfilled, onRejected), send(defaults, config));
    instance.get = (url, config = {}) => instance({ ...config, url, method: "get" });
    instance.post = (url, data, config = {}) => instance({ ...config, url, data, method: "post" });
    instance.interceptors = { response: { use: (onFulfilled, onRejected) => interceptors.push([onFulfilled, onRejected]) } };
    return instance;
  }

  window.axios = { create };
})();
