// session.js: the session cookie and the CSRF token, after OWASP's CSRF Prevention Cheat Sheet.
//  - The session id is a random cookie: HttpOnly (scripts cannot read it), SameSite=Strict (the
//    browser does not send it with requests from other sites), Secure and `__Host-` prefixed
//    when the page is served over https.
//  - The CSRF token is an HMAC of the session id with a server secret (the "signed double
//    submit" variant of the synchronizer token): the page fetches it from /api/session and
//    sends it back in the X-CSRF-Token header of every state-changing request. A request from
//    another site cannot read it (no CORS) and cannot set the header without a preflight.
//  - State-changing requests must also carry an Origin header equal to our own origin and a
//    JSON content type, as defence in depth.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { httpError } from './http_error.js';

// safeEqual compares a secret the client sent with ours in constant time.
export function safeEqual(given, want) {
  const a = Buffer.from(String(given));
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class Sessions {
  constructor({ secure }) {
    this.secure = secure;
    this.cookieName = secure ? '__Host-session' : 'session';
    this.secret = randomBytes(32);
  }

  // fromRequest returns the request's session id, or null.
  fromRequest(req) {
    for (const part of (req.headers.cookie || '').split(';')) {
      const [name, ...rest] = part.trim().split('=');
      if (name === this.cookieName) {
        const value = rest.join('=');
        return /^[A-Za-z0-9_-]{43}$/.test(value) ? value : null;
      }
    }
    return null;
  }

  // ensure returns the request's session id, creating one (and its Set-Cookie header) if needed.
  ensure(req, res) {
    const existing = this.fromRequest(req);
    if (existing) return existing;
    const id = randomBytes(32).toString('base64url');
    const attrs = ['Path=/', 'HttpOnly', 'SameSite=Strict', 'Max-Age=31536000'];
    if (this.secure) attrs.push('Secure');
    res.setHeader('Set-Cookie', `${this.cookieName}=${id}; ${attrs.join('; ')}`);
    return id;
  }

  csrfToken(sessionId) {
    return createHmac('sha256', this.secret).update(`csrf:${sessionId}`).digest('base64url');
  }

  // checkStateChange returns the session id of a state-changing request, or throws an Error
  // with a `status` (403) saying which check failed.
  // `origins` are the site's own origins (one in production; 127.0.0.1 and localhost while
  // developing).
  checkStateChange(req, origins) {
    const fail = (why) => httpError(403, why);
    if (!origins.includes(req.headers.origin)) throw fail('origin is not this site');
    if (!(req.headers['content-type'] || '').startsWith('application/json')) {
      throw fail('content-type must be application/json');
    }
    const id = this.fromRequest(req);
    if (!id) throw fail('no session cookie');
    if (!safeEqual(req.headers['x-csrf-token'] || '', this.csrfToken(id))) {
      throw fail('missing or wrong X-CSRF-Token');
    }
    return id;
  }
}
