/**
 * The targets of issue 5, checked against one run's records. Each goal names the two
 * figures it compares (both from this run), the ratio it needs, the ratio measured, and
 * whether it is met. A figure that is missing (its case did not run) leaves the goal
 * "not measured", never met.
 */

const find = (records, c, key) => records.find((r) => r.case === c && r.key === key)

// Throughput targets are judged on the 8-callers-in-flight figures through the Effect API
// (what the pool and batching are built for); the 1-caller ratio is shown next to them.
export function checkGoals(records) {
  const goals = []
  const ratioGoal = (id, text, a, b, need, note) => {
    if (!a || !b) return goals.push({ id, text, status: "not measured" })
    const ratio = a.median / b.median
    goals.push({
      id,
      text,
      measured: `${label(a)} ${fmt(a.median)} ${a.unit} ÷ ${label(b)} ${fmt(b.median)} ${b.unit}`,
      ratio,
      need: `≥ ${need}×`,
      met: ratio >= need,
      status: ratio >= need ? "met" : "not met",
      note,
    })
  }
  const limitGoal = (id, text, r, limit, unit) => {
    if (!r) return goals.push({ id, text, status: "not measured" })
    const met = r.median <= limit
    goals.push({
      id,
      text,
      measured: `${label(r)} ${fmt(r.median)} ${unit ?? r.unit} (min ${fmt(r.min)}, max ${fmt(r.max)})`,
      ratio: limit === 0 ? undefined : r.median / limit,
      need: `≤ ${limit} ${unit ?? r.unit}`,
      met,
      status: met ? "met" : "not met",
    })
  }
  const oneCaller = (c, key, base) => {
    const a = find(records, c, key)
    const b = find(records, c, base)
    return a && b ? `1 caller: ${fmt(a.median / b.median)}×` : undefined
  }

  // cross-namespace
  ratioGoal(
    "cross-ns-vs-c-thread",
    "cross-ns pairs/s ≥ 2× C thread-per-op (the seed's design)",
    find(records, "pairs/cross-ns", "linx-effect-8"),
    find(records, "pairs/cross-ns", "c-thread-per-op"),
    2,
    oneCaller("pairs/cross-ns", "linx-effect-1", "c-thread-per-op"),
  )
  ratioGoal(
    "cross-ns-vs-nsenter",
    "cross-ns pairs/s ≥ 100× nsenter with 8 in flight",
    find(records, "pairs/cross-ns", "linx-effect-8"),
    find(records, "pairs/cross-ns", "nsenter-8"),
    100,
    oneCaller("pairs/cross-ns", "linx-effect-1", "nsenter-8"),
  )
  // for information: how far from the persistent-thread limit of raw C
  const persistent = find(records, "pairs/cross-ns", "c-persistent")
  const cross8 = find(records, "pairs/cross-ns", "linx-effect-8")
  if (persistent && cross8)
    goals.push({
      id: "cross-ns-vs-c-persistent",
      text: "(info) cross-ns vs the C persistent-thread limit",
      ratio: cross8.median / persistent.median,
      measured: `${fmt(cross8.median)} ÷ ${fmt(persistent.median)} pairs/s`,
      status: "info",
    })

  // same namespace
  ratioGoal(
    "same-ns-vs-c",
    "same-ns pairs/s ≥ ½ C single-thread loop",
    find(records, "pairs/same-ns", "linx-effect-8"),
    find(records, "pairs/same-ns", "c-1"),
    0.5,
    oneCaller("pairs/same-ns", "linx-effect-1", "c-1"),
  )
  goals.push(rising(records))

  // proc
  ratioGoal(
    "proc-vs-c-vfork",
    "proc mounts/s ≥ ½ C vfork-style path",
    find(records, "proc/mounts", "linx-small-8"),
    find(records, "proc/mounts", "c-vfork-small"),
    0.5,
    oneCaller("proc/mounts", "linx-small-1", "c-vfork-small"),
  )
  ratioGoal(
    "proc-1gib",
    "proc mounts/s with a 1 GiB heap within 10% of a small heap",
    find(records, "proc/mounts", "linx-1gib-8"),
    find(records, "proc/mounts", "linx-small-8"),
    0.9,
    oneCaller("proc/mounts", "linx-1gib-1", "linx-small-1"),
  )

  // list (figures from bench/list/list.mjs): times, lower is better
  const list10k = listFigure(records, 10000, "linx")
  const kernel10k = listFigure(records, 10000, "kernel")
  const findmnt10k = listFigure(records, 10000, "findmnt")
  if (list10k && kernel10k) {
    const ratio = list10k.median / kernel10k.median
    goals.push({
      id: "list-vs-kernel",
      text: "list() of 10,000 mounts ≤ 2× the kernel's read time",
      measured: `${label(list10k)} ${fmt(list10k.median)} ${list10k.unit} ÷ ${label(kernel10k)} ${fmt(kernel10k.median)} ${kernel10k.unit}`,
      ratio,
      need: "≤ 2×",
      met: ratio <= 2,
      status: ratio <= 2 ? "met" : "not met",
    })
  } else
    goals.push({
      id: "list-vs-kernel",
      text: "list() of 10,000 mounts ≤ 2× the kernel's read time",
      status: "not measured",
    })
  if (list10k && findmnt10k) {
    const ratio = findmnt10k.median / list10k.median
    goals.push({
      id: "list-vs-findmnt",
      text: "list() of 10,000 mounts ≥ 2× faster than findmnt --raw",
      measured: `${label(findmnt10k)} ${fmt(findmnt10k.median)} ${findmnt10k.unit} ÷ ${label(list10k)} ${fmt(list10k.median)} ${list10k.unit}`,
      ratio,
      need: "≥ 2×",
      met: ratio >= 2,
      status: ratio >= 2 ? "met" : "not met",
    })
  } else
    goals.push({
      id: "list-vs-findmnt",
      text: "list() of 10,000 mounts ≥ 2× faster than findmnt --raw",
      status: "not measured",
    })

  // event loop, during the 10,000-op batch: issued by 8 callers in flight, and issued all
  // at once (where starting 10,000 fibers in one step costs the caller by itself what
  // eventloop/stub-burst shows, with no linx-mount work behind them)
  for (const [variant, how] of [
    ["cross-ns-8-callers", "8 callers in flight"],
    ["cross-ns-burst", "all issued at once"],
  ]) {
    limitGoal(
      `eventloop-p99-${variant}`,
      `event-loop delay p99 ≤ 2 ms during a 10,000-op batch, ${how}`,
      find(records, `eventloop/${variant}`, "p99"),
      2,
    )
    limitGoal(
      `eventloop-max-${variant}`,
      `event-loop delay max ≤ 10 ms during a 10,000-op batch, ${how}`,
      find(records, `eventloop/${variant}`, "max"),
      10,
    )
  }

  // resources over 100,000 ops
  limitGoal(
    "resources-fds",
    "no growth in open fds over 100,000 ops",
    find(records, "resources/100k-ops", "fds-growth"),
    0,
  )
  limitGoal(
    "resources-threads",
    "no growth in threads over 100,000 ops",
    find(records, "resources/100k-ops", "threads-growth"),
    0,
  )
  limitGoal(
    "resources-zombies",
    "no zombie children after 100,000 ops",
    find(records, "resources/100k-ops", "zombies-after"),
    0,
  )
  limitGoal(
    "resources-rss",
    "RSS growth ≤ 20 MB over 100,000 ops",
    find(records, "resources/100k-ops", "rss-growth-first"),
    20,
  )
  const steady = find(records, "resources/100k-ops", "rss-growth")
  if (steady && goals.at(-1).status !== "not measured")
    goals.at(-1).note = `steady state: ${fmt(steady.median)} MB per batch`
  return goals
}

/** Same-ns pairs/s rising with callers in flight: 1 < 2 < 4 < 8 at the default pool size. */
function rising(records) {
  const id = "same-ns-rising"
  const text = "same-ns pairs/s rising with callers in flight (1→8, default pool)"
  const rows = records.filter((r) => r.case === "scaling/same-ns" && r.defaultPool)
  const byCallers = new Map(rows.map((r) => [r.callers, r]))
  const series = [1, 2, 4, 8].map((n) => byCallers.get(n)).filter(Boolean)
  if (series.length < 2) return { id, text, status: "not measured" }
  // Rising: each step at least as high as the one before, give or take 5% of noise, and
  // 8 callers clearly above 1.
  const steps = series.slice(1).map((r, i) => r.median / series[i].median)
  const ratio = series.at(-1).median / series[0].median
  const met = steps.every((s) => s >= 0.95) && ratio > 1.05
  return {
    id,
    text,
    measured: series.map((r) => `${r.callers}: ${fmt(r.median)}`).join(", ") + " pairs/s",
    ratio,
    need: "each step ≥ 0.95×, 8 callers > 1.05× 1 caller",
    met,
    status: met ? "met" : "not met",
  }
}

/** A figure of the list scope for `mounts` mounts and a reader (linx | kernel | findmnt). */
function listFigure(records, mounts, reader) {
  const patterns = {
    linx: /linx|list\(\)/i,
    kernel: /kernel|cat\b|read loop|readfile/i,
    findmnt: /findmnt/i,
  }
  const m = String(mounts)
  const candidates = records.filter(
    (r) =>
      (r.case?.startsWith("list/") || r.source?.startsWith("list/")) &&
      (r.mounts === mounts ||
        `${r.case} ${r.key} ${r.label}`.replace(/[,_]/g, "").includes(m) ||
        `${r.case} ${r.key} ${r.label}`.includes("10k")),
  )
  const hit = (r) => patterns[reader].test(`${r.key} ${r.label} ${r.role ?? ""}`)
  const order =
    reader === "kernel"
      ? candidates.filter((r) => !/findmnt/i.test(`${r.key} ${r.label}`))
      : candidates
  return order.find(
    (r) => hit(r) && (reader !== "linx" || !/findmnt|cat\b/i.test(`${r.key} ${r.label}`)),
  )
}

const label = (r) => r.short ?? r.key
export const fmt = (x) =>
  x === undefined || Number.isNaN(x)
    ? "—"
    : Number.isInteger(x) || Math.abs(x) >= 1000
      ? Math.round(x).toLocaleString("en-US")
      : Math.abs(x) >= 100
        ? x.toFixed(0)
        : Math.abs(x) >= 10
          ? x.toFixed(1)
          : Math.abs(x) >= 1
            ? x.toFixed(2)
            : x.toFixed(3)
