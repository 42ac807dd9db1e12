export function App() {
  return <main><h1>Orchestra</h1></main>;
}
