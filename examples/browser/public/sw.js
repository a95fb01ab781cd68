// sw.js: the service worker. The browser wakes it for each push message, already decrypted
// (RFC 8291): it shows a notification (subscriptions are `userVisibleOnly`, and a browser may
// cancel a subscription whose pushes show nothing) and tells the open pages what came in.

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

// A payload is JSON {title, body, url} when it comes from the example's server; anything else
// (text, binary, empty) still gets a notification, so a sender's mistake is visible. `text` is
// the payload decoded as UTF-8, or null.
function parseNotification(text) {
  if (text === null) return null;
  try {
    const value = JSON.parse(text);
    if (value && typeof value.title === 'string') {
      return { title: value.title, body: String(value.body ?? ''), url: String(value.url ?? '/') };
    }
  } catch { /* not JSON */ }
  return null;
}

function toBase64(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

function asText(bytes) {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

self.addEventListener('push', (event) => {
  const bytes = event.data ? new Uint8Array(event.data.arrayBuffer()) : new Uint8Array(0);
  const text = asText(bytes);
  const notification = parseNotification(text);
  const title = notification ? notification.title : 'New message';
  const options = {
    body: notification ? notification.body : `${bytes.length} bytes`,
    data: { url: notification ? notification.url : '/' },
  };
  const report = self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((pages) => {
    const message = {
      type: 'push',
      size: bytes.length,
      base64: toBase64(bytes),
      text: notification ? null : text,
      notification,
      received: Date.now(),
    };
    for (const page of pages) page.postMessage(message);
  });
  event.waitUntil(Promise.all([self.registration.showNotification(title, options), report]));
});

// A click focuses a page of ours already showing the URL, or opens it. Only URLs of this origin
// are opened: a payload must not be able to send the user elsewhere.
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  let target = new URL(event.notification.data?.url || '/', self.location.origin);
  if (target.origin !== self.location.origin) target = new URL('/', self.location.origin);
  event.waitUntil(self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((pages) => {
    for (const page of pages) {
      if (page.url === target.href && 'focus' in page) return page.focus();
    }
    return self.clients.openWindow(target.href);
  }));
});

// The push service replaced or dropped the subscription (it expired, or the browser's push
// service started over): subscribe again and send the new one with the old endpoint, so the
// server replaces it rather than keeping a dead one. The CSRF token is fetched with the
// session cookie, as the page does.
self.addEventListener('pushsubscriptionchange', (event) => {
  event.waitUntil((async () => {
    const session = await fetch('/api/session', { credentials: 'same-origin' }).then((r) => r.json());
    const subscription = event.newSubscription ?? await self.registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: event.oldSubscription?.options?.applicationServerKey ??
        Uint8Array.from(atob(session.vapidPublicKey.replace(/-/g, '+').replace(/_/g, '/')),
          (c) => c.charCodeAt(0)),
    });
    const body = { subscription: subscription.toJSON() };
    if (event.oldSubscription) body.oldEndpoint = event.oldSubscription.endpoint;
    const response = await fetch('/api/subscriptions', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`storing the new subscription: ${response.status}`);
  })());
});
