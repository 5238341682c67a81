// Swagger UI on this server's OpenAPI document (/api/openapi.json, relative to /api/docs).
// validatorUrl: null keeps Swagger UI from sending the document to an online validator.
window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
