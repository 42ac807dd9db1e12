import { validationHeadline, type PlacedFinding, type ValidationView as View } from '../lib/validation.js';

/** The governance verdict for the code in a reply, with its findings; nothing when there is none. */
export function ValidationView({ view, findings }: { view: View; findings: PlacedFinding[] }) {
  if (view.kind === 'none') return null;
  if (view.kind === 'unreadable') {
    return (
      <div className="validation validation-unknown" data-testid="validation" data-verdict="unknown">
        Code check result unavailable
      </div>
    );
  }
  const headline = validationHeadline(view);
  return (
    <details className={`validation validation-${view.verdict}`} data-testid="validation" data-verdict={view.verdict}>
      <summary>
        <span className="validation-icon" aria-hidden="true">
          {view.verdict === 'pass' ? '✓' : '!'}
        </span>
        {headline}
      </summary>
      {findings.length === 0 ? (
        <p className="muted">No findings.</p>
      ) : (
        <ul className="findings">
          {findings.map((f, i) => (
            <li key={i} className="finding" data-testid="finding" data-severity={f.severity}>
              <span className={`severity severity-${f.severity}`}>{f.severity}</span>
              <code className="rule">{f.ruleId}</code>
              <span className="finding-message">{f.message}</span>
              {f.block !== null && f.blockLine !== null ? (
                <span className="position muted" data-testid="finding-position">
                  block {f.block + 1}, line {f.blockLine}
                  {f.column !== null ? `:${f.column}` : ''}
                </span>
              ) : f.line !== null ? (
                <span className="position muted" data-testid="finding-position">
                  line {f.line}
                  {f.column !== null ? `:${f.column}` : ''}
                </span>
              ) : null}
            </li>
          ))}
        </ul>
      )}
    </details>
  );
}
