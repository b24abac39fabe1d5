/**
 * The printer: lines of cells (bytes) into findmnt's output forms, as libsmartcols 2.38
 * prints them into a pipe — the table (`human`, the tree drawn in the TARGET column),
 * `-r` (raw), `-P` (pairs) and `-J` (JSON, `children` in tree form). On a terminal findmnt
 * also fits the table to its width, truncating some columns; linx-mount never truncates.
 *
 * Rules kept from libsmartcols: a column is as wide as its widest cell, and never narrower
 * than its header (even with `-n`) nor than its width hint when that is absolute (ID 2,
 * MAJ:MIN 6, ACTION 10, …); right-aligned columns (ID, PARENT, UNIQ-ID) pad on the left;
 * the last column is not padded; no header is printed for an empty table.
 */
import { Buffer } from "node:buffer"
import type { Column } from "./columns.js"
import { humanCell, jsonString, quotedCell, rawCell, textWidth } from "./text.js"

/** One output line: a cell per column (undefined: empty) and, in a tree, its children. */
export interface Line {
  readonly cells: ReadonlyArray<Buffer | undefined>
  readonly children: Array<Line>
}

export type Format = "human" | "raw" | "pairs" | "json"

export interface PrintOptions {
  readonly format: Format
  readonly headings: boolean
  /** `-a`: ASCII tree art. */
  readonly ascii: boolean
  /** `-y`: column names usable as shell variables. */
  readonly shell: boolean
  /** The column the tree is drawn in (TARGET), or -1 for a list. */
  readonly treeColumn: number
}

/** libsmartcols' shell-variable form of a name: `MAJ:MIN` → `MAJ_MIN`, `USE%` → `USE_PCT`. */
export const shellName = (name: string): string => {
  let out = /^[A-Za-z]/.test(name) ? "" : "_"
  out += name.replace(/[^A-Za-z0-9]/g, "_")
  return name.endsWith("%") ? `${out}PCT` : out
}

const headerOf = (column: Column, options: PrintOptions): string =>
  options.shell ? shellName(column.name) : column.name

interface Placed {
  readonly line: Line
  readonly parent: Placed | undefined
  readonly last: boolean // the last of its siblings (or of the roots)
}

/** The lines in print order: each line, then its children (depth first). */
const walk = (roots: ReadonlyArray<Line>): Array<Placed> => {
  const out: Array<Placed> = []
  const visit = (lines: ReadonlyArray<Line>, parent: Placed | undefined) => {
    lines.forEach((line, i) => {
      const placed: Placed = { line, parent, last: i === lines.length - 1 }
      out.push(placed)
      visit(line.children, placed)
    })
  }
  visit(roots, undefined)
  return out
}

/** The tree art in front of a line's TARGET: `│ ` or `  ` per ancestor, then `├─` or `└─`. */
const art = (p: Placed, ascii: boolean): string => {
  if (p.parent === undefined) return ""
  let prefix = ""
  for (let up = p.parent; up.parent !== undefined; up = up.parent) {
    prefix = (up.last ? "  " : ascii ? "| " : "│ ") + prefix
  }
  return prefix + (p.last ? (ascii ? "`-" : "└─") : ascii ? "|-" : "├─")
}

/** Renders the lines (roots of a tree, or a flat list) in one of findmnt's forms. */
export const render = (
  columns: ReadonlyArray<Column>,
  roots: ReadonlyArray<Line>,
  options: PrintOptions,
): string => {
  if (options.format === "json") return renderJson(columns, roots, options)
  const placed = walk(roots)
  if (placed.length === 0) return ""
  switch (options.format) {
    case "raw": {
      const rows = placed.map((p) =>
        p.line.cells.map((c) => (c === undefined ? "" : rawCell(c))).join(" "),
      )
      if (options.headings) rows.unshift(columns.map((c) => headerOf(c, options)).join(" "))
      return `${rows.join("\n")}\n`
    }
    case "pairs":
      return `${placed
        .map((p) =>
          p.line.cells
            .map((c, i) => `${headerOf(columns[i]!, options)}=${quotedCell(c ?? new Uint8Array())}`)
            .join(" "),
        )
        .join("\n")}\n`
    default:
      return renderHuman(columns, placed, options)
  }
}

const renderHuman = (
  columns: ReadonlyArray<Column>,
  placed: ReadonlyArray<Placed>,
  options: PrintOptions,
): string => {
  const rows = placed.map((p) =>
    p.line.cells.map((cell, i) => {
      const encoded = cell === undefined ? { text: "", width: 0 } : humanCell(cell)
      if (i !== options.treeColumn) return encoded
      const prefix = art(p, options.ascii)
      return { text: prefix + encoded.text, width: textWidth(prefix) + encoded.width }
    }),
  )
  const headers = columns.map((c) => {
    const text = headerOf(c, options)
    return { text, width: textWidth(text) }
  })
  const widths = columns.map((column, i) => {
    const min = Math.max(1, headers[i]!.width)
    let width = 0
    for (const row of rows) width = Math.max(width, row[i]!.width)
    if (width < min && !column.strict) width = min
    else if (column.whint >= 1 && width < column.whint && min < column.whint) width = column.whint
    return width
  })
  const last = columns.length - 1
  const print = (cells: ReadonlyArray<{ readonly text: string; readonly width: number }>) => {
    let out = ""
    cells.forEach((cell, i) => {
      let width = widths[i]!
      const right = columns[i]!.right
      let len = cell.width
      if (i === last && len < width && !right) width = len
      if (cell.text !== "") {
        if (right && len < width) {
          out += " ".repeat(width - len)
          len = width
        }
        out += cell.text
      }
      if (i === last) return
      if (len < width) out += " ".repeat(width - len)
      out += " "
    })
    return out
  }
  const lines = rows.map(print)
  if (options.headings) lines.unshift(print(headers))
  return `${lines.join("\n")}\n`
}

// ---- JSON, as util-linux's ul_jsonwrt writes it ---------------------------------------------

class JsonWriter {
  private readonly out: Array<string> = []
  private indent = 0
  private afterClose = false

  open(name: string | undefined, type: "object" | "array" | "value"): void {
    if (name !== undefined) {
      if (this.afterClose) this.out.push(",\n")
      this.pad()
      this.out.push(jsonString(Buffer.from(name.toLowerCase(), "utf8")))
    } else if (this.afterClose) {
      this.out.push(",")
    } else {
      this.pad()
    }
    if (type === "object") {
      this.out.push(name !== undefined ? ": {\n" : "{\n")
      this.indent++
    } else if (type === "array") {
      this.out.push(name !== undefined ? ": [\n" : "[\n")
      this.indent++
    } else {
      this.out.push(name !== undefined ? ": " : " ")
    }
    this.afterClose = false
  }

  close(type: "object" | "array" | "value"): void {
    if (this.indent === 1) {
      this.out.push("\n}\n")
      this.indent--
      this.afterClose = true
      return
    }
    if (type !== "value") {
      this.indent--
      this.out.push("\n")
      this.pad()
      this.out.push(type === "object" ? "}" : "]")
    }
    this.afterClose = true
  }

  value(name: string, raw: string): void {
    this.open(name, "value")
    this.out.push(raw)
    this.close("value")
  }

  text(): string {
    return this.out.join("")
  }

  private pad(): void {
    this.out.push("   ".repeat(this.indent))
  }
}

const jsonValues = (
  w: JsonWriter,
  columns: ReadonlyArray<Column>,
  line: Line,
  options: PrintOptions,
) => {
  line.cells.forEach((cell, i) => {
    const column = columns[i]!
    const name = headerOf(column, options)
    if (cell === undefined || cell.length === 0) w.value(name, "null")
    else if (column.number) w.value(name, cell.toString("latin1"))
    else w.value(name, jsonString(cell))
  })
}

const renderJson = (
  columns: ReadonlyArray<Column>,
  roots: ReadonlyArray<Line>,
  options: PrintOptions,
): string => {
  const w = new JsonWriter()
  const values = (line: Line) => jsonValues(w, columns, line, options)
  w.open(undefined, "object")
  w.open("filesystems", "array")
  if (options.treeColumn < 0) {
    for (const p of walk(roots)) {
      w.open(undefined, "object")
      values(p.line)
      w.close("object")
    }
  } else {
    for (let p of walk(roots)) {
      w.open(undefined, "object")
      values(p.line)
      if (p.line.children.length > 0) {
        w.open("children", "array")
        continue
      }
      // A leaf: close it, and every parent whose last child it ends.
      for (;;) {
        const last = p.last
        w.close("object")
        if (last && p.parent !== undefined) w.close("array")
        if (!last || p.parent === undefined) break
        p = p.parent
      }
    }
  }
  w.close("array")
  w.close("object")
  return w.text()
}
