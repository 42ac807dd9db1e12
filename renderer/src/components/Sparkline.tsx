/** A tiny inline chart of recent samples; nulls are gaps. */
export function Sparkline({ values, label }: { values: Array<number | null>; label: string }) {
  const width = 120;
  const height = 28;
  const numbers = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (numbers.length < 2) return <svg className="sparkline" width={width} height={height} aria-label={label} role="img" />;
  const max = Math.max(...numbers, 1e-9);
  const min = Math.min(...numbers, 0);
  const span = max - min || 1;
  const step = width / Math.max(values.length - 1, 1);
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) {
      pen = false;
      return;
    }
    const x = (i * step).toFixed(1);
    const y = (height - 2 - ((v - min) / span) * (height - 4)).toFixed(1);
    d += `${pen ? 'L' : 'M'}${x},${y}`;
    pen = true;
  });
  return (
    <svg className="sparkline" width={width} height={height} viewBox={`0 0 ${width} ${height}`} aria-label={label} role="img">
      <path d={d} fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinejoin="round" strokeLinecap="round" />
    </svg>
  );
}
