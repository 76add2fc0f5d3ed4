// The API reference: Swagger UI (vendored) over the server's own /openapi.json.
"use strict";
window.addEventListener("DOMContentLoaded", () => {
  window.SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger", deepLinking: true });
});
