/**
 * What every case file under bench/<scope>/ shares: options, repeated timed runs reduced
 * to median/min/max, the scratch directories the runner prepared, the raw-C baseline
 * binary, and the way results leave the process.
 *
 * A case file is a script run by bench/run.mjs as `node bench/<scope>/<name>.mjs --json
 * [--quick]` inside the runner's private mount namespace, with LINX_BENCH_SCRATCH naming a
 * directory of its own on the runner's tmpfs. With --json it prints one JSON document,
 * `{ records: [...] }`, on stdout; progress goes to stderr.
 */
import { execFile } from "node:child_process"
import { mkdirSync, readdirSync, readFileSync, readlinkSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const argv = process.argv.slice(2)
const flag = (name) => argv.includes(`--${name}`)

export const quick = flag("quick")
export const json = flag("json")

/** Runs per figure, and how long each timed run lasts. */
export const config = quick
  ? { runs: 3, runMs: 80, warmupMs: 40, processWarmupMs: 150 }
  : { runs: 5, runMs: 400, warmupMs: 150, processWarmupMs: 1000 }

export const benchDir = fileURLToPath(new URL("..", import.meta.url))
export const mountbench = join(benchDir, "bin", "mountbench")

/** Refuses to run outside the runner: every case mounts, and must do so in its namespace. */
export function requireRunner() {
  const host = process.env.LINX_BENCH_HOST_MNTNS
  const scratch = process.env.LINX_BENCH_SCRATCH
  if (process.getuid?.() !== 0 || !host || !scratch || host === readlinkSync("/proc/self/ns/mnt")) {
    console.error(
      "This case mounts: run it through the runner, as root (it makes the private mount namespace\n" +
        "and the scratch tmpfs): node bench/run.mjs --only <scope>[/<case>]",
    )
    process.exit(2)
  }
  return scratch
}

/** Creates `<dir>/src` (with a file in it) and the targets `<dir>/t0` … `<dir>/t<n-1>`. */
export function layout(dir, n) {
  mkdirSync(join(dir, "src"), { recursive: true })
  const targets = []
  for (let k = 0; k < n; k++) {
    const t = join(dir, `t${k}`)
    mkdirSync(t, { recursive: true })
    targets.push(t)
  }
  return { src: join(dir, "src"), targets }
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Reduces raw values to a record's figures. */
export const summarize = (values) => ({
  runs: values,
  median: median(values),
  min: Math.min(...values),
  max: Math.max(...values),
})

/**
 * Measures a rate: one untimed warm-up run, then `config.runs` timed runs. `run(ms)` works
 * for about `ms` milliseconds and returns `{ ops, seconds }`; the figure is ops/seconds.
 * When every run also returns `cpuSeconds` (the C baseline does; `withCpu` adds it to a
 * JavaScript run), the record keeps the CPU per op of each run, in µs, as `cpuRuns`: see
 * `cpuRecords`.
 */
export async function rate(
  fields,
  run,
  { runs = config.runs, runMs = config.runMs, warmupMs = config.warmupMs } = {},
) {
  if (warmupMs > 0) await run(warmupMs)
  const values = []
  const cpu = []
  for (let i = 0; i < runs; i++) {
    const { ops, seconds, cpuSeconds } = await run(runMs)
    if (!(ops > 0)) throw new Error(`${fields.case} ${fields.key}: no operation completed`)
    values.push(ops / seconds)
    if (cpuSeconds !== undefined) cpu.push((cpuSeconds * 1e6) / ops)
  }
  const record = { better: "higher", ...fields, ...summarize(values) }
  if (cpu.length === runs) record.cpuRuns = cpu
  progress(record)
  return record
}

/**
 * Measures several rates side by side: each one's warm-up, then round after round one timed
 * run of each in turn, so that a burst of load from elsewhere on the machine (2 vCPUs shared
 * with other work) hits every figure of the comparison alike instead of whichever ran then.
 * `specs`: `{ fields, run, options }` as `rate` takes them (each its own runs, runMs,
 * warmupMs). Resolves to the records, in the order of `specs`.
 */
export async function interleaved(specs) {
  const plans = specs.map(({ fields, run, options = {} }) => ({
    fields,
    run,
    runs: options.runs ?? config.runs,
    runMs: options.runMs ?? config.runMs,
    warmupMs: options.warmupMs ?? config.warmupMs,
    values: [],
    cpu: [],
  }))
  for (const p of plans) if (p.warmupMs > 0) await p.run(p.warmupMs)
  const rounds = Math.max(...plans.map((p) => p.runs))
  for (let i = 0; i < rounds; i++) {
    for (const p of plans) {
      if (i >= p.runs) continue
      const { ops, seconds, cpuSeconds } = await p.run(p.runMs)
      if (!(ops > 0)) throw new Error(`${p.fields.case} ${p.fields.key}: no operation completed`)
      p.values.push(ops / seconds)
      if (cpuSeconds !== undefined) p.cpu.push((cpuSeconds * 1e6) / ops)
    }
  }
  return plans.map((p) => {
    const record = { better: "higher", ...p.fields, ...summarize(p.values), interleaved: true }
    if (p.cpu.length === p.runs) record.cpuRuns = p.cpu
    progress(record)
    return record
  })
}

/**
 * Adds `cpuSeconds` to what a JavaScript run returns: the user + system time of every thread
 * of this process (the event loop, the pool's workers, V8's helpers) over the run, from
 * `process.cpuUsage()`.
 */
export const withCpu =
  (run) =>
  async (...args) => {
    const before = process.cpuUsage()
    const result = await run(...args)
    const used = process.cpuUsage(before)
    return { ...result, cpuSeconds: (used.user + used.system) / 1e6 }
  }

/**
 * The CPU figures of rate records that have them (`cpuRuns`): one record each, key
 * `<key>-cpu`, in µs per op of the rate's unit ("pairs/s" → "µs/pair").
 */
export const cpuRecords = (records) =>
  records
    .filter((r) => Array.isArray(r.cpuRuns))
    .map((r) =>
      figure(
        {
          case: r.case,
          key: `${r.key}-cpu`,
          role: r.role,
          label: `${r.label}: CPU per ${opName(r.unit)}, all threads`,
          unit: `µs/${opName(r.unit)}`,
          better: "lower",
          cpuOf: r.key,
        },
        r.cpuRuns,
      ),
    )

// "pairs/s" → "pair", "mounts/s" → "mount"
const opName = (unit) => unit.split("/")[0].replace(/s$/, "")

/** A record of figures measured some other way (latencies, resource counts). */
export function figure(fields, values) {
  const record = { ...fields, ...summarize(values) }
  progress(record)
  return record
}

const fmt = (x) =>
  Math.abs(x) >= 100
    ? Math.round(x).toLocaleString("en-US")
    : Math.abs(x) >= 10
      ? x.toFixed(1)
      : x.toFixed(2)

function progress(r) {
  console.error(
    `  ${r.case.padEnd(24)} ${r.label.padEnd(44)} ${fmt(r.median).padStart(10)} ${r.unit}  [${fmt(r.min)} – ${fmt(r.max)}]`,
  )
}

/** Hands the records to the runner (stdout JSON) or, run by hand, has already shown them. */
export function emit(records) {
  if (json) process.stdout.write(`${JSON.stringify({ records })}\n`)
}

/**
 * For a case that prints a table of its own: to stderr under the runner (whose stdout
 * carries the records), to stdout when run by hand; then the records as `emit` hands them.
 */
export function emitReport(lines, records) {
  const report = `${lines.join("\n")}\n`
  if (json) process.stderr.write(report)
  else process.stdout.write(report)
  emit(records)
}

/** Runs the C baseline once; resolves to its `{ ops, seconds, ... }`. */
export function c(mode, args) {
  const flat = Object.entries(args).flatMap(([k, v]) => [`--${k}`, String(v)])
  return new Promise((resolve, reject) => {
    execFile(mountbench, [mode, ...flat], { timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`mountbench ${mode}: ${stderr || error.message}`))
      else resolve(JSON.parse(stdout))
    })
  })
}

/** Runs a command to completion; rejects with its stderr when it fails. */
export function exec(file, args) {
  return new Promise((resolve, reject) => {
    execFile(file, args, (error, _stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(" ")}: ${stderr || error.message}`))
      else resolve()
    })
  })
}

/**
 * Runs `callers` loops at once until `ms` have passed; each calls `step(k)` (k: the caller's
 * index) repeatedly. Resolves to `{ ops, seconds }`, counting steps that completed, the time
 * running until the last one finished.
 */
export async function loops(callers, ms, step) {
  const start = performance.now()
  const deadline = start + ms
  let ops = 0
  await Promise.all(
    Array.from({ length: callers }, async (_, k) => {
      while (performance.now() < deadline) {
        await step(k)
        ops++
      }
    }),
  )
  return { ops, seconds: (performance.now() - start) / 1000 }
}

/** This process's open descriptors, threads, RSS and zombie children, from /proc. */
export function resources() {
  const status = readFileSync("/proc/self/status", "utf8")
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN)
  let zombies = 0
  let children = 0
  for (const task of readdirSync("/proc/self/task")) {
    let list = ""
    try {
      list = readFileSync(`/proc/self/task/${task}/children`, "utf8").trim()
    } catch {
      continue
    }
    for (const pid of list ? list.split(" ") : []) {
      children++
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
        if (stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z") zombies++
      } catch {
        // reaped meanwhile
      }
    }
  }
  return {
    rssMB: rssKb / 1024,
    fds: readdirSync("/proc/self/fd").length,
    threads: readdirSync("/proc/self/task").length,
    children,
    zombies,
  }
}

/** Keeps `mib` MiB of touched memory alive in this process (64 MiB Buffers, filled). */
export function holdHeap(mib) {
  const held = []
  for (let done = 0; done < mib; done += 64)
    held.push(Buffer.alloc(Math.min(64, mib - done) * 1024 * 1024, 1))
  globalThis.__linxBenchHeap = held
  return held
}
