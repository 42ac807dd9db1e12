/** Shown when the server answers 401: this browser has not been paired (or the token changed). */
export function PairingScreen() {
  return (
    <div className="center-screen" data-testid="pairing-screen">
      <div className="card pairing">
        <div className="brand-mark large" aria-hidden="true">♪</div>
        <h1>Pair this browser with Orchestra</h1>
        <p>
          This page is served by an Orchestra server, and every request needs a credential. Open the <strong>pairing link</strong>{' '}
          printed by <code>orchestra serve</code> in this browser once; it starts a browser session in a secure cookie and brings you back
          here. A pairing link works once and expires after 10 minutes.
        </p>
        <pre className="terminal">
          <code>{'$ orchestra serve\nOrchestra http://127.0.0.1:8000 is ready\n  pair a browser:  http://127.0.0.1:8000/pair?code=…'}</code>
        </pre>
        <p className="muted">
          Lost the link, or it expired? Run <code>orchestra pair</code> on the machine that runs the server for a fresh one. The desktop app
          pairs its own window automatically.
        </p>
        <button type="button" className="button primary" onClick={() => window.location.reload()}>
          I have paired — reload
        </button>
      </div>
    </div>
  );
}
