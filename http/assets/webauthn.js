// The one script of Keystep's pages (CSP script-src 'self', no inline script): runs a
// WebAuthn ceremony for a form the server rendered as
//   <form id="ceremony" data-ceremony="get|create" data-options="{JSON options}">
//     <input type="hidden" name="code"> ... <p id="ceremony-status" role="status">
// The options are the server's PublicKeyCredential{Request,Creation}OptionsJSON; the
// credential the browser returns is posted back as JSON text in the "code" field. Bytes
// travel as base64url both ways (WebAuthn Level 3 §5.1.8, §5.1.10), converted here so that
// browsers without parse*OptionsFromJSON / toJSON work too.
'use strict';

(function () {
  const form = document.getElementById('ceremony');
  if (!form) return;
  const status = document.getElementById('ceremony-status');
  const button = form.querySelector('button[type="submit"]');
  const code = form.querySelector('input[name="code"]');

  function say(text) {
    if (status) {
      status.textContent = text;
      status.hidden = false;
    }
  }

  if (!window.PublicKeyCredential || !navigator.credentials) {
    say('This browser cannot use security keys. Use another browser, or another method ' +
        'below.');
    if (button) button.disabled = true;
    return;
  }

  function toBytes(text) {
    const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  }

  function toText(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = '';
    for (let i = 0; i < bytes.length; i += 1) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function descriptors(list) {
    return (list || []).map((d) => Object.assign({}, d, { id: toBytes(d.id) }));
  }

  function creationOptions(json) {
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      user: Object.assign({}, json.user, { id: toBytes(json.user.id) }),
      excludeCredentials: descriptors(json.excludeCredentials),
    });
  }

  function requestOptions(json) {
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      allowCredentials: descriptors(json.allowCredentials),
    });
  }

  // PublicKeyCredential.toJSON() as §5.1 defines it, for the members the server reads.
  function credentialJson(credential) {
    const r = credential.response;
    const response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      if (r.userHandle) response.userHandle = toText(r.userHandle);
    }
    return { id: credential.id, rawId: toText(credential.rawId), type: credential.type,
             response: response, clientExtensionResults: {} };
  }

  // What the browser's errors mean to the person at the keyboard.
  function explain(error, creating) {
    switch (error && error.name) {
      case 'NotAllowedError':
        return 'The security key did not answer: the request timed out or was cancelled. ' +
               'Press the button to try again.';
      case 'AbortError':
        return 'The request was cancelled. Press the button to try again.';
      case 'InvalidStateError':
        return creating ? 'This security key is registered already. Use another key.'
                        : 'This security key is not registered for you. Use another key.';
      case 'SecurityError':
        return 'This address cannot use security keys. Ask your administrator.';
      case 'NotSupportedError':
        return 'This security key cannot be used here. Use another key or another method.';
      default:
        return 'The security key could not be used. Try again, or use another method.';
    }
  }

  let busy = false;
  form.addEventListener('submit', async (event) => {
    if (code.value) return;  // the answer is in: let the form go
    event.preventDefault();
    if (busy) return;
    busy = true;
    const creating = form.dataset.ceremony === 'create';
    say(creating ? 'Touch your security key now.' : 'Use your security key now.');
    try {
      const json = JSON.parse(form.dataset.options);
      const credential = creating
          ? await navigator.credentials.create({ publicKey: creationOptions(json) })
          : await navigator.credentials.get({ publicKey: requestOptions(json) });
      code.value = JSON.stringify(credentialJson(credential));
      say('Checking…');
      form.submit();
    } catch (error) {
      say(explain(error, creating));
    } finally {
      busy = false;
    }
  });
})();
