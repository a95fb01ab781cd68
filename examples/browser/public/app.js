// app.js: the page's side of Web Push. It checks what the browser supports, registers the
// service worker, asks for notification permission only when the user clicks (browsers ignore
// or penalise permission prompts without a gesture), subscribes with the server's VAPID public
// key and hands the subscription to the server with the CSRF token. The state it reaches is
// also set as `data-state` on <body>, which the headless browser test reads.

const $ = (id) => document.getElementById(id);

function setState(state, text, detail = '') {
  document.body.dataset.state = state;
  $('status').textContent = text;
  $('detail').textContent = detail;
}

function base64UrlToBytes(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let session = null; // { csrfToken, vapidPublicKey } from /api/session

async function api(method, path, body, alsoFine = []) {
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken },
    body: JSON.stringify(body),
  });
  if (!response.ok && !alsoFine.includes(response.status)) {
    const text = await response.text();
    let reason = text;
    try { reason = JSON.parse(text).error; } catch { /* not JSON */ }
    throw new Error(`${method} ${path}: ${response.status} ${reason}`);
  }
  return response.json();
}

// currentSubscription asks the push manager for the subscription, retrying while the browser's
// push service is not up yet: Firefox starts it some seconds after start-up and rejects
// getSubscription() and subscribe() until then.
async function currentSubscription(registration) {
  let lastError;
  for (let attempt = 0; attempt < 40; attempt++) {
    try {
      return await registration.pushManager.getSubscription();
    } catch (err) {
      lastError = err;
      setState('waiting', 'waiting for the browser\'s push service…', String(err));
      await sleep(Math.min(250 * (attempt + 1), 2000));
    }
  }
  throw lastError;
}

function showSubscribed(subscription) {
  const url = new URL(subscription.endpoint);
  setState('subscribed', 'subscribed: this browser will receive notifications',
    `Push service: ${url.origin}`);
  $('subscribe').hidden = true;
  $('unsubscribe').hidden = false;
  $('unsubscribe').disabled = false;
}

function showUnsubscribed() {
  setState('ready', 'not subscribed', Notification.permission === 'denied'
    ? 'Notifications are blocked for this site: allow them in the browser\'s site settings.'
    : 'Click the button to allow notifications from this site.');
  $('subscribe').hidden = false;
  $('subscribe').disabled = Notification.permission === 'denied';
  $('unsubscribe').hidden = true;
}

async function subscribe(registration) {
  $('subscribe').disabled = true;
  try {
    const permission = await Notification.requestPermission();
    if (permission !== 'granted') {
      showUnsubscribed();
      return;
    }
    setState('subscribing', 'subscribing…');
    const subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true, // every push shows a notification: browsers require it
      applicationServerKey: base64UrlToBytes(session.vapidPublicKey),
    });
    await api('POST', '/api/subscriptions', { subscription: subscription.toJSON() });
    showSubscribed(subscription);
  } catch (err) {
    setState('error', 'could not subscribe', String(err));
    $('subscribe').disabled = false;
  }
}

async function unsubscribe(registration) {
  $('unsubscribe').disabled = true;
  try {
    const subscription = await registration.pushManager.getSubscription();
    if (subscription) {
      // The server forgets it first: a message sent in between would reach a browser that
      // still holds it, rather than one that has already let go.
      // 404: the server had already forgotten it; the browser must still let go.
      await api('DELETE', '/api/subscriptions', { endpoint: subscription.endpoint }, [404]);
      await subscription.unsubscribe();
    }
    showUnsubscribed();
  } catch (err) {
    setState('error', 'could not unsubscribe', String(err));
    $('unsubscribe').disabled = false;
  }
}

function describe(message) {
  if (message.size === 0) return 'a push without data';
  if (message.notification) return `${message.notification.title}: ${message.notification.body}`;
  if (message.text !== null) {
    return message.text.length > 80 ? `${message.text.slice(0, 80)}…` : message.text;
  }
  return 'binary data';
}

// The service worker posts every push it receives to the open pages.
function onWorkerMessage(event) {
  const message = event.data;
  if (!message || message.type !== 'push') return;
  const li = document.createElement('li');
  li.dataset.bytes = message.base64;
  li.dataset.size = String(message.size);
  li.textContent = describe(message);
  const meta = document.createElement('span');
  meta.className = 'meta';
  meta.textContent = `${message.size} bytes · ${new Date(message.received).toLocaleTimeString()}`;
  li.append(meta);
  $('messages').prepend(li);
}

async function main() {
  if (!('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window)) {
    setState('unsupported', 'this browser does not support Web Push',
      'It needs service workers, the Push API and notifications, on a secure origin (https, or localhost).');
    return;
  }
  navigator.serviceWorker.addEventListener('message', onWorkerMessage);
  const [registration, sessionResponse] = await Promise.all([
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).then(() => navigator.serviceWorker.ready),
    fetch('/api/session', { credentials: 'same-origin' }),
  ]);
  session = await sessionResponse.json();
  $('subscribe').addEventListener('click', () => subscribe(registration));
  $('unsubscribe').addEventListener('click', () => unsubscribe(registration));

  const subscription = await currentSubscription(registration);
  if (!subscription) {
    showUnsubscribed();
    return;
  }
  // The browser is subscribed; make sure the server has it (it may have been deleted there, or
  // stored under an earlier session).
  const status = await api('POST', '/api/subscriptions/status', { endpoint: subscription.endpoint });
  if (!status.stored) await api('POST', '/api/subscriptions', { subscription: subscription.toJSON() });
  showSubscribed(subscription);
}

main().catch((err) => setState('error', 'something went wrong', String(err)));
