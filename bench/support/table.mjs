/**
 * The run's report: one block per case (linx-mount rows first, then the baselines measured
 * in the same run, each with "linx ×": how many times better the case's headline linx-mount
 * figure is, per unit), then the open issues' targets with met / not met and the ratio.
 */
import { fmt } from "./goals.mjs"

// The headline linx-mount row of a case for each unit (a case may report pairs/s and CPU
// µs/pair): the 8-callers Effect API figure where there is one.
const headlines = (rows) => {
  const byUnit = new Map()
  for (const unit of new Set(rows.map((r) => r.unit))) {
    const same = rows.filter((r) => r.unit === unit && r.role === "linx")
    const lead = same.find((r) => /effect-8(-cpu)?$|-8(-cpu)?$/.test(r.key)) ?? same[0]
    if (lead) byUnit.set(unit, lead)
  }
  return byUnit
}

const advantage = (row, leads) => {
  const lead = leads.get(row.unit)
  if (!lead || row === lead || row.role !== "baseline" || !(row.median > 0) || !(lead.median > 0))
    return ""
  const x = row.better === "lower" ? row.median / lead.median : lead.median / row.median
  return `${fmt(x)}×`
}

const groups = (records) => {
  const byCase = new Map()
  for (const r of records) {
    if (!byCase.has(r.case)) byCase.set(r.case, [])
    byCase.get(r.case).push(r)
  }
  return byCase
}

const metaLine = (meta) =>
  `${meta.quick ? "quick run, " : ""}${meta.date} · commit ${meta.commit ?? "?"} · node ${meta.node} · ` +
  `kernel ${meta.kernel} · ${meta.cpus} CPUs · load before ${meta.loadavgBefore.map((x) => x.toFixed(2)).join(" ")}, ` +
  `after ${meta.loadavgAfter.map((x) => x.toFixed(2)).join(" ")} · ${meta.seconds.toFixed(0)} s`

// A table cell's text: a "|" (CLONE_VM|CLONE_VFORK) would end the cell.
const md = (text) => String(text).replaceAll("|", "\\|")

// Each case's wall time and the 1-minute load average at its start → end.
const caseLine = (cases) =>
  (cases ?? [])
    .map(
      (c) =>
        `${c.name} ${c.seconds.toFixed(0)} s${c.load ? ` (load ${c.load.map((x) => x.toFixed(1)).join("→")})` : ""}${c.error ? ` FAILED: ${c.error}` : ""}`,
    )
    .join(" · ")

const issueTag = (g) => (g.issue === undefined ? "" : `#${g.issue} `)

const goalLine = (g) => {
  const mark =
    g.status === "met"
      ? "✔ met    "
      : g.status === "not met"
        ? "✘ NOT MET"
        : g.status === "info"
          ? "  info   "
          : "? not measured"
  const ratio = g.ratio === undefined ? "" : `${fmt(g.ratio)}×`
  return { mark, ratio, g }
}

/** Scaling cases: callers across, pool sizes down, the C row (threads = callers) last. */
const isMatrix = (rows) =>
  rows.some((r) => r.pool !== undefined) && rows.every((r) => r.callers !== undefined)
const matrix = (rows) => {
  const callers = [...new Set(rows.map((r) => r.callers))].sort((a, b) => a - b)
  const pools = [...new Set(rows.filter((r) => r.pool !== undefined).map((r) => r.pool))].sort(
    (a, b) => a - b,
  )
  const cell = (r) => (r ? `${fmt(r.median)} [${fmt(r.min)}–${fmt(r.max)}]` : "")
  const head = ["", ...callers.map((c) => `${c} caller${c > 1 ? "s" : ""}`)]
  const body = pools.map((p) => [
    `linx pool ${p}${rows.find((r) => r.pool === p)?.defaultPool ? " (default)" : ""}`,
    ...callers.map((c) => cell(rows.find((r) => r.pool === p && r.callers === c))),
  ])
  const base = rows.filter((r) => r.pool === undefined)
  if (base.length)
    body.push([
      `C, threads = callers`,
      ...callers.map((c) => cell(base.find((r) => r.callers === c))),
    ])
  return { head, body, unit: rows[0].unit }
}

export function renderTable(records, goals, meta, cases) {
  const lines = [
    `linx-mount bench — ${metaLine(meta)}`,
    "every figure: median of the runs [min – max]",
    "",
  ]
  const w = 52
  for (const [name, rows] of groups(records)) {
    if (isMatrix(rows)) {
      const { head, body, unit } = matrix(rows)
      lines.push(`${name} (${unit})`)
      const widths = head.map((_, i) =>
        Math.max(...[head, ...body].map((r) => String(r[i]).length)),
      )
      for (const r of [head, ...body])
        lines.push(
          `  ${r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join("  ")}`,
        )
      lines.push("")
      continue
    }
    const leads = headlines(rows)
    lines.push(`${name}`)
    for (const r of rows) {
      const tag = r.role === "linx" ? "linx" : r.role === "baseline" ? "base" : "    "
      const range = `[${fmt(r.min)} – ${fmt(r.max)}]`
      lines.push(
        `  ${tag} ${String(r.label).padEnd(w).slice(0, w)} ${fmt(r.median).padStart(10)} ${String(r.unit).padEnd(8)} ${range.padEnd(24)} ${advantage(r, leads)}`,
      )
    }
    lines.push("")
  }
  lines.push("targets (issues 11, 14, 13 item 6; info lines are not targets)")
  for (const { mark, ratio, g } of goals.map(goalLine)) {
    lines.push(`  ${mark} ${issueTag(g)}${g.text}`)
    if (g.measured)
      lines.push(
        `             ${g.measured}${ratio ? ` → ${ratio}` : ""}${g.need ? ` (need ${g.need})` : ""}${g.note ? `; ${g.note}` : ""}`,
      )
    else if (g.note) lines.push(`             ${g.note}`)
  }
  if (cases?.length) lines.push("", `cases: ${caseLine(cases)}`)
  return lines.join("\n")
}

export function renderMarkdown(records, goals, meta, cases) {
  const lines = [`_${metaLine(meta)}; every figure the median of several runs, [min – max]._`, ""]
  lines.push(
    "| case | | implementation | median | min – max | linx × |",
    "|---|---|---|--:|--:|--:|",
  )
  const matrices = []
  for (const [name, rows] of groups(records)) {
    if (isMatrix(rows)) {
      matrices.push([name, matrix(rows)])
      continue
    }
    const leads = headlines(rows)
    for (const r of rows) {
      lines.push(
        `| ${name} | ${r.role === "linx" ? "**linx**" : (r.role ?? "")} | ${md(r.label)} | ${fmt(r.median)} ${r.unit} | ${fmt(r.min)} – ${fmt(r.max)} | ${advantage(r, leads)} |`,
      )
    }
  }
  for (const [name, { head, body, unit }] of matrices) {
    lines.push(
      "",
      `**${name}** (${unit}, median [min–max])`,
      "",
      `| ${head.join(" | ")} |`,
      `|${head.map((_, i) => (i ? "--:" : "---")).join("|")}|`,
    )
    for (const r of body) lines.push(`| ${r.join(" | ")} |`)
  }
  lines.push("", "| issue | target | measured | ratio | need | |", "|--:|---|---|--:|---|---|")
  for (const g of goals) {
    lines.push(
      `| ${g.issue ?? ""} | ${md(g.text)} | ${md(g.measured ?? "")}${g.note ? ` (${g.note})` : ""} | ${g.ratio === undefined ? "" : `${fmt(g.ratio)}×`} | ${g.need ?? ""} | ${g.status} |`,
    )
  }
  if (cases?.length) lines.push("", `_cases: ${caseLine(cases)}_`)
  return `${lines.join("\n")}\n`
}
