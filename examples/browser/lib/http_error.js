// http_error.js: the errors the server answers as they are: an Error with the HTTP status (and
// any headers) to answer with. Anything thrown without a status is a bug or an outage, and the
// server answers 500 without details.
export const httpError = (status, message, headers) => Object.assign(new Error(message), { status, headers });
