/**
 * Folds the JSON of bench/list/list.mjs (written separately) into the runner's records.
 * Its preferred shape is ours, `{ records: [...] }` (then this adapter is not used); any other
 * shape is walked, and every object carrying a `median` (or numeric `runs`) becomes a record
 * of a `list/...` case named after its path in the document.
 */
export function adaptList(file, parsed) {
  const out = []
  const visit = (value, path) => {
    if (value === null || typeof value !== "object") return
    if (Array.isArray(value)) {
      for (const [i, v] of value.entries())
        visit(v, [...path, v?.name ?? v?.case ?? v?.key ?? String(i)])
      return
    }
    const runs = Array.isArray(value.runs)
      ? value.runs.filter((x) => typeof x === "number")
      : undefined
    if (typeof value.median === "number" || runs?.length) {
      const median = value.median ?? [...runs].sort((a, b) => a - b)[runs.length >> 1]
      out.push({
        source: file.name,
        case: value.case ?? `list/${path.slice(0, -1).join("/") || "list"}`,
        key: value.key ?? path.at(-1),
        label: value.label ?? value.name ?? path.join(" "),
        unit: value.unit ?? "ms",
        better: value.better ?? "lower",
        role: value.role,
        median,
        min: value.min ?? (runs ? Math.min(...runs) : median),
        max: value.max ?? (runs ? Math.max(...runs) : median),
        runs,
        raw: value,
      })
      return
    }
    for (const [k, v] of Object.entries(value)) visit(v, [...path, k])
  }
  visit(parsed, [])
  return out
}
