/**
 * The speed targets of the open issues, checked against one run's records: issue 11 (the
 * piscina design), issue 14 item 2 (batches), and issue 13 item 6 (CLI start-up, measured by
 * bench/cli/startup.mjs when that case exists). Each goal names the two figures it compares
 * (both from this run), the ratio it needs, the ratio measured, and whether it is met. A
 * figure that is missing (its case did not run) leaves the goal "not measured", never met.
 * Figures shown for context only (an earlier issue's targets, the burst variant) are "info".
 */
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

const find = (records, c, key) => records.find((r) => r.case === c && r.key === key)

const cliCase = fileURLToPath(new URL("../cli/startup.mjs", import.meta.url))

// Throughput targets are judged on the 8-callers-in-flight figures through the Effect API
// (what the pool and the batching of a tick are built for), unless the target names 1 caller.
export function checkGoals(records) {
  const goals = []
  const ratioGoal = (issue, id, text, a, b, need, note) => {
    if (!a || !b) return goals.push({ issue, id, text, status: "not measured" })
    const ratio = a.median / b.median
    goals.push({
      issue,
      id,
      text,
      measured: `${label(a)} ${fmt(a.median)} ${a.unit} ÷ ${label(b)} ${fmt(b.median)} ${b.unit}`,
      ratio,
      need: `≥ ${need}×`,
      met: ratio >= need,
      status: ratio >= need ? "met" : "not met",
      note: typeof note === "function" ? note() : note,
    })
  }
  const limitGoal = (issue, id, text, r, limit, { info = false, note } = {}) => {
    if (!r) return goals.push({ issue, id, text, status: info ? "info" : "not measured" })
    const met = r.median <= limit
    goals.push({
      issue,
      id,
      text,
      measured: `${label(r)} ${fmt(r.median)} ${r.unit} (min ${fmt(r.min)}, max ${fmt(r.max)})`,
      ratio: limit === 0 ? undefined : r.median / limit,
      need: `≤ ${limit} ${r.unit}`,
      met,
      status: info ? "info" : met ? "met" : "not met",
      note,
    })
  }
  const info = (issue, id, text, a, b) => {
    if (a && b)
      goals.push({
        issue,
        id,
        text,
        ratio: a.median / b.median,
        measured: `${label(a)} ${fmt(a.median)} ${a.unit} ÷ ${label(b)} ${fmt(b.median)} ${b.unit}`,
        status: "info",
      })
  }
  const also = (c, key, base, what) => () => {
    const a = find(records, c, key)
    const b = find(records, c, base)
    return a && b ? `${what}: ${fmt(a.median / b.median)}×` : undefined
  }

  // ---- issue 11: cross-namespace ------------------------------------------------------
  const cross = "pairs/cross-ns"
  ratioGoal(
    11,
    "cross-ns-vs-c-thread",
    "cross-ns pairs/s, 8 callers ≥ 2× C thread-per-op (the seed's design)",
    find(records, cross, "linx-effect-8"),
    find(records, cross, "c-thread-per-op"),
    2,
    also(cross, "linx-promise-8", "c-thread-per-op", "Promise API"),
  )
  ratioGoal(
    11,
    "cross-ns-vs-nsenter",
    "cross-ns pairs/s, 8 callers ≥ 100× nsenter with 8 in flight",
    find(records, cross, "linx-effect-8"),
    find(records, cross, "nsenter-8"),
    100,
    also(cross, "linx-promise-8", "nsenter-8", "Promise API"),
  )
  ratioGoal(
    11,
    "cross-ns-1-caller",
    "cross-ns pairs/s, 1 caller ≥ 0.6× C thread-per-op",
    find(records, cross, "linx-effect-1"),
    find(records, cross, "c-thread-per-op"),
    0.6,
    also(cross, "linx-promise-1", "c-thread-per-op", "Promise API"),
  )
  info(
    11,
    "cross-ns-vs-c-persistent",
    "(info) cross-ns, 8 callers vs C's persistent thread, setns per op",
    find(records, cross, "linx-effect-8"),
    find(records, cross, "c-persistent"),
  )

  // ---- issue 11: same namespace -------------------------------------------------------
  const same = "pairs/same-ns"
  ratioGoal(
    11,
    "same-ns-vs-c",
    "same-ns pairs/s, 8 callers ≥ 1× the C single-thread loop",
    find(records, same, "linx-effect-8"),
    find(records, same, "c-1"),
    1,
    also(same, "linx-effect-1", "c-1", "1 caller"),
  )

  // ---- issue 11: CPU per pair ---------------------------------------------------------
  for (const [c, where] of [
    [cross, "cross-ns"],
    [same, "same-ns"],
  ]) {
    const cpu = find(records, c, "linx-effect-8-cpu")
    const promise = find(records, c, "linx-promise-8-cpu")
    const floor = find(records, c, where === "cross-ns" ? "c-persistent-cpu" : "c-1-cpu")
    limitGoal(
      11,
      `cpu-per-pair-${where}`,
      `${where} CPU per pair, all threads, 8 callers ≤ 50 µs`,
      cpu,
      50,
      {
        note: [
          promise && `Promise API ${fmt(promise.median)} µs`,
          floor &&
            `C ${where === "cross-ns" ? "persistent thread" : "loop"} ${fmt(floor.median)} µs`,
        ]
          .filter(Boolean)
          .join(", "),
      },
    )
  }

  // ---- issue 11: proc mounts ----------------------------------------------------------
  ratioGoal(
    11,
    "proc-vs-c-vfork",
    "proc mounts/s into a PID namespace, 8 callers ≥ 0.5× the C vfork path",
    find(records, "proc/mounts", "linx-small-8"),
    find(records, "proc/mounts", "c-vfork-small"),
    0.5,
    also("proc/mounts", "linx-small-1", "c-vfork-small", "1 caller"),
  )
  ratioGoal(
    11,
    "proc-1gib",
    "proc mounts/s flat with a 1 GiB heap (≥ 0.9× the small heap's)",
    find(records, "proc/mounts", "linx-1gib-8"),
    find(records, "proc/mounts", "linx-small-8"),
    0.9,
    also("proc/mounts", "linx-1gib-1", "linx-small-1", "1 caller"),
  )

  // ---- issue 11: event loop -----------------------------------------------------------
  // During the 10,000-op batch by 8 callers in flight; issued all at once, starting 10,000
  // fibers in one step costs the caller by itself what eventloop/stub-burst shows, with no
  // linx-mount work behind them: for information.
  const ops = (c) => {
    const r = find(records, `eventloop/${c}`, "p99")
    const m = /^([\d,]+) /.exec(r?.label ?? "")
    return m ? `${(Number(m[1].replaceAll(",", "")) * 2).toLocaleString("en-US")}-op` : "10,000-op"
  }
  for (const [stat, limit] of [
    ["p99", 2],
    ["max", 10],
  ]) {
    limitGoal(
      11,
      `eventloop-${stat}`,
      `event-loop delay ${stat} ≤ ${limit} ms during a ${ops("cross-ns-8-callers")} cross-ns batch, 8 callers`,
      find(records, "eventloop/cross-ns-8-callers", stat),
      limit,
    )
  }
  for (const [stat, limit] of [
    ["p99", 2],
    ["max", 10],
  ]) {
    limitGoal(
      11,
      `eventloop-burst-${stat}`,
      `(info) event-loop delay ${stat} (limit ${limit} ms), the same ops issued all at once`,
      find(records, "eventloop/cross-ns-burst", stat),
      limit,
      {
        info: true,
        note: (() => {
          const stub = find(records, "eventloop/stub-burst", stat)
          return stub ? `Mounter stub alone: ${fmt(stub.median)} ms` : undefined
        })(),
      },
    )
  }

  // ---- issue 11: resources over 100,000 ops -------------------------------------------
  const res = "resources/100k-ops"
  const n = (() => {
    const m = /per ([\d,]+) ops/.exec(find(records, res, "fds-growth")?.label ?? "")
    return m ? m[1] : "100,000"
  })()
  limitGoal(
    11,
    "resources-fds",
    `no growth in open fds over ${n} ops`,
    find(records, res, "fds-growth"),
    0,
  )
  const threadsBefore = find(records, res, "threads-before")
  limitGoal(
    11,
    "resources-threads",
    `no growth in threads over ${n} ops (the piscina workers started once)`,
    find(records, res, "threads-growth"),
    0,
    { note: threadsBefore ? `${fmt(threadsBefore.median)} threads before` : undefined },
  )
  limitGoal(
    11,
    "resources-zombies",
    `no zombie children after ${n} ops`,
    find(records, res, "zombies-after"),
    0,
  )
  const steady = find(records, res, "rss-growth")
  limitGoal(
    11,
    "resources-rss",
    `RSS growth ≤ 20 MB over ${n} ops`,
    find(records, res, "rss-growth-first"),
    20,
    {
      note: steady ? `steady state: ${fmt(steady.median)} MB per batch after the first` : undefined,
    },
  )

  // ---- issue 14: batches --------------------------------------------------------------
  const batch = "batch/container"
  ratioGoal(
    14,
    "batch-vs-persist-batch",
    "Mount.batch of 1,000 ops into a container ≥ 0.5× C persist-batch",
    find(records, batch, "linx-effect-1"),
    find(records, batch, "c-persist-batch"),
    0.5,
    () =>
      [
        also(batch, "linx-promise-1", "c-persist-batch", "Promise API")(),
        also(batch, "linx-effect-1", "c-persist-batch-fd", "vs C with the addon's syscalls")(),
      ]
        .filter(Boolean)
        .join("; "),
  )

  // ---- issue 13 item 6: CLI start-up --------------------------------------------------
  goals.push(cliGoal(records))

  // ---- an earlier issue's targets (5), for information --------------------------------
  goals.push({ ...rising(records), issue: 5 })
  listInfo(records, goals)
  return goals
}

/**
 * CLI start-up ≤ 2× a bare `node -e 0`, from bench/cli/startup.mjs (written on another
 * branch): its baseline row is the one whose key or label names `node -e` (or key `node…`),
 * and the slowest of its linx-mount rows is judged; missing case, not measured.
 */
function cliGoal(records) {
  const base = { issue: 13, id: "cli-startup", text: "CLI start-up ≤ 2× a bare `node -e 0`" }
  if (!existsSync(cliCase))
    return { ...base, status: "not measured", note: "bench/cli/startup.mjs is not on this branch" }
  const rows = records.filter((r) => r.case?.startsWith("cli/"))
  const node = rows.find(
    (r) => r.role !== "linx" && /^node\b|node-e|node -e/i.test(`${r.key} ${r.label}`),
  )
  const linx = rows
    .filter((r) => r.role === "linx" && (r.better ?? "lower") === "lower" && r.unit === node?.unit)
    .sort((a, b) => b.median - a.median)
  if (!node || linx.length === 0) return { ...base, status: "not measured" }
  const ratio = linx[0].median / node.median
  return {
    ...base,
    measured: `${label(linx[0])} ${fmt(linx[0].median)} ${linx[0].unit} ÷ ${label(node)} ${fmt(node.median)} ${node.unit}`,
    ratio,
    need: "≤ 2×",
    met: ratio <= 2,
    status: ratio <= 2 ? "met" : "not met",
    note:
      linx.length > 1
        ? `the slowest of ${linx.length}; ${linx
            .slice(1)
            .map((r) => `${label(r)} ${fmt(r.median / node.median)}×`)
            .join(", ")}`
        : undefined,
  }
}

/** Same-ns pairs/s rising with callers in flight: 1 < 2 < 4 < 8 at the default pool size. */
function rising(records) {
  const id = "same-ns-rising"
  const text = "(info) same-ns pairs/s rising with callers in flight (1→8, default pool)"
  const rows = records.filter((r) => r.case === "scaling/same-ns" && r.defaultPool)
  const byCallers = new Map(rows.map((r) => [r.callers, r]))
  const series = [1, 2, 4, 8].map((n) => byCallers.get(n)).filter(Boolean)
  if (series.length < 2) return { id, text, status: "info" }
  // Rising: each step at least as high as the one before, give or take 5% of noise, and
  // 8 callers clearly above 1.
  const steps = series.slice(1).map((r, i) => r.median / series[i].median)
  const ratio = series.at(-1).median / series[0].median
  const rises = steps.every((s) => s >= 0.95) && ratio > 1.05
  return {
    id,
    text,
    measured: `${series.map((r) => `${r.callers}: ${fmt(r.median)}`).join(", ")} pairs/s`,
    ratio,
    status: "info",
    note: rises ? "rising" : "not rising at every step",
  }
}

/** Issue 5's list targets, for information: list() against the kernel's read and findmnt. */
function listInfo(records, goals) {
  const at = (key) => find(records, "list/10000", key)
  const linx = at("linx-10000")
  const kernel = at("kernel-10000")
  const findmnt = at("findmnt-10000")
  if (linx && kernel)
    goals.push({
      issue: 5,
      id: "list-vs-kernel",
      text: "(info) list() of 10,000 mounts vs the kernel's mountinfo read (was ≤ 2×)",
      measured: `${label(linx)} ${fmt(linx.median)} ms ÷ ${label(kernel)} ${fmt(kernel.median)} ms`,
      ratio: linx.median / kernel.median,
      status: "info",
    })
  if (linx && findmnt)
    goals.push({
      issue: 5,
      id: "list-vs-findmnt",
      text: "(info) findmnt --raw vs list() of 10,000 mounts (was ≥ 2× faster)",
      measured: `${label(findmnt)} ${fmt(findmnt.median)} ms ÷ ${label(linx)} ${fmt(linx.median)} ms`,
      ratio: findmnt.median / linx.median,
      status: "info",
    })
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
