/**
 * findmnt(8)'s output columns (util-linux 2.38): their names, widths, alignment, JSON types
 * and what each shows of a mount, computed from a `MountEntry` as findmnt computes it from
 * libmount's entry. `UNIQ-ID` (the kernel's 64-bit mount id, from statmount) is not in 2.38;
 * it is util-linux 2.40's column of that name, with its layout.
 *
 * Columns findmnt fills from libblkid, udev or statvfs (LABEL, UUID, SIZE, …) are known by
 * name, so that asking for one says why it is missing instead of "unknown column".
 */
import { Buffer } from "node:buffer"
import { realpathSync } from "node:fs"
import type { MountEntry } from "../../MountEntry.js"
import { unmangle } from "./text.js"

/** One column: findmnt's `struct colinfo` and libsmartcols' flags for it. */
export interface Column {
  readonly name: string
  /** Width hint: ≥ 1 an absolute minimum width (when the header is narrower). */
  readonly whint: number
  readonly right: boolean
  /** SCOLS_FL_STRICTWIDTH: never widened to the header's width. */
  readonly strict: boolean
  /** A JSON number rather than a string. */
  readonly number: boolean
  readonly help: string
  /** Only with `--poll` (ACTION, OLD-TARGET, OLD-OPTIONS). */
  readonly poll: boolean
  /** Why linx-mount cannot fill it, when it cannot. */
  readonly unsupported?: string
}

const col = (
  name: string,
  whint: number,
  help: string,
  extra: Partial<Omit<Column, "name" | "whint" | "help">> = {},
): Column => ({
  name,
  whint,
  help,
  right: extra.right ?? false,
  strict: extra.strict ?? false,
  number: extra.number ?? false,
  poll: extra.poll ?? false,
  ...(extra.unsupported === undefined ? {} : { unsupported: extra.unsupported }),
})

const blkid = "it comes from libblkid/udev, which linx-mount does not read"
const statvfs = "it comes from statvfs(2) of the mount point, which linx-mount does not call"

/** findmnt's columns in its help's order, then UNIQ-ID. */
export const allColumns: ReadonlyArray<Column> = [
  col("ACTION", 10, "action detected by --poll", { strict: true, poll: true }),
  col("AVAIL", 5, "filesystem size available", { right: true, unsupported: statvfs }),
  col("FREQ", 1, "dump(8) period in days [fstab only]", { right: true, number: true }),
  col("FSROOT", 0.25, "filesystem root"),
  col("FSTYPE", 0.1, "filesystem type"),
  col("FS-OPTIONS", 0.1, "FS specific mount options"),
  col("ID", 2, "mount ID", { right: true, number: true }),
  col("LABEL", 0.1, "filesystem label", { unsupported: blkid }),
  col("MAJ:MIN", 6, "major:minor device number"),
  col("OLD-OPTIONS", 0.1, "old mount options saved by --poll", { poll: true }),
  col("OLD-TARGET", 0.3, "old mountpoint saved by --poll", { poll: true }),
  col("OPTIONS", 0.1, "all mount options"),
  col("OPT-FIELDS", 0.1, "optional mount fields"),
  col("PARENT", 2, "mount parent ID", { right: true, number: true }),
  col("PARTLABEL", 0.1, "partition label", { unsupported: blkid }),
  col("PARTUUID", 36, "partition UUID", { unsupported: blkid }),
  col("PASSNO", 1, "pass number on parallel fsck(8) [fstab only]", { right: true, number: true }),
  col("PROPAGATION", 0.1, "VFS propagation flags"),
  col("SIZE", 5, "filesystem size", { right: true, unsupported: statvfs }),
  col("SOURCE", 0.25, "source device"),
  col("SOURCES", 0.25, "all possible source devices", { unsupported: blkid }),
  col("TARGET", 0.3, "mountpoint"),
  col("TID", 4, "task ID", {
    right: true,
    number: true,
    unsupported: "linx-mount reads no per-task tables",
  }),
  col("USED", 5, "filesystem size used", { right: true, unsupported: statvfs }),
  col("USE%", 3, "filesystem use percentage", { right: true, unsupported: statvfs }),
  col("UUID", 36, "filesystem UUID", { unsupported: blkid }),
  col("VFS-OPTIONS", 0.2, "VFS specific mount options"),
  col("UNIQ-ID", 10, "mount 64-bit ID (statmount; not in util-linux 2.38)", {
    right: true,
    number: true,
  }),
]

/** A column by name, case-insensitively (findmnt's `column_name_to_id`). */
export const columnNamed = (name: string): Column | undefined => {
  const upper = name.toUpperCase()
  return allColumns.find((c) => c.name === upper)
}

/** The default columns (findmnt's). */
export const defaultColumns: ReadonlyArray<string> = ["TARGET", "SOURCE", "FSTYPE", "OPTIONS"]

/** How cells are made: findmnt's flags that change them. */
export interface CellOptions {
  /** `-r`, `-J`, `-P`: MAJ:MIN unpadded. */
  readonly plain: boolean
  /** `-v`: no `[/root]` after the SOURCE of a bind. */
  readonly noFsRoot: boolean
  /** `-c`: absolute sources canonicalized. */
  readonly canonicalize: boolean
}

// ---- options, as libmount merges them ----------------------------------------------------

/** An option list split as libmount's parser splits it: at commas outside double quotes. */
export const splitOptions = (s: string): Array<string> => {
  const items: Array<string> = []
  let current = ""
  let quoted = false
  for (const ch of s) {
    if (ch === '"') quoted = !quoted
    if (ch === "," && !quoted) {
      if (current !== "") items.push(current)
      current = ""
    } else {
      current += ch
    }
  }
  if (current !== "") items.push(current)
  return items
}

const optionName = (item: string): string => {
  const eq = item.indexOf("=", 1)
  return eq < 0 ? item : item.slice(0, eq)
}

const removeFirst = (items: Array<string>, name: string): boolean => {
  const i = items.findIndex((item) => optionName(item) === name)
  if (i < 0) return false
  items.splice(i, 1)
  return true
}

/**
 * findmnt's OPTIONS: libmount's `merge_optstr` of the per-mount and the superblock options
 * (escapes decoded). Both lists go into one, their `rw` and `ro` are removed, and one of
 * them leads: `ro` if either side is read-only.
 */
export const mergeOptions = (vfs: Buffer, fs: Buffer): Buffer => {
  if (vfs.equals(fs)) return Buffer.from(vfs)
  // latin1: one character per byte, so that no byte is lost on the way.
  const items = [...splitOptions(vfs.toString("latin1")), ...splitOptions(fs.toString("latin1"))]
  let rw = 0
  let ro = 0
  if (removeFirst(items, "rw")) rw++
  if (removeFirst(items, "rw")) rw++
  if (rw !== 2) {
    if (removeFirst(items, "ro")) ro++
    if (ro + rw < 2 && removeFirst(items, "ro")) ro++
  }
  const rest = items.join(",")
  return Buffer.from(`${ro > 0 ? "ro" : "rw"}${rest === "" ? "" : `,${rest}`}`, "latin1")
}

/** The OPTIONS of an entry (what `-O` matches against). */
export const entryOptions = (e: MountEntry): Buffer =>
  mergeOptions(unmangle(e.mountOptions), unmangle(e.superOptions))

/** findmnt's PROPAGATION: `shared` or `private`, then `,slave`, then `,unbindable`. */
export const propagationText = (e: MountEntry): string => {
  const has = (kind: string) => e.propagation.some((p) => p.kind === kind)
  return `${has("shared") ? "shared" : "private"}${has("master") ? ",slave" : ""}${has("unbindable") ? ",unbindable" : ""}`
}

/** The optional fields as the kernel printed them (`shared:1 master:2`). */
const optFields = (e: MountEntry): string =>
  e.propagation.map((p) => (p.kind === "unbindable" ? p.kind : `${p.kind}:${p.group}`)).join(" ")

const text = (s: string | undefined): Buffer | undefined =>
  s === undefined || s === "" ? undefined : Buffer.from(s, "utf8")

const canonical = (source: Buffer): Buffer => {
  if (source[0] !== 0x2f) return source
  try {
    return realpathSync.native(source, { encoding: "buffer" })
  } catch {
    return source
  }
}

/** The SOURCE cell: the source, with `[root]` for a mount of a subdirectory (a bind). */
export const sourceCell = (e: MountEntry, options: CellOptions): Buffer => {
  const source = options.canonicalize ? canonical(e.sourceBytes) : e.sourceBytes
  if (options.noFsRoot || e.root === "/") return source
  return Buffer.concat([source, Buffer.from("["), e.rootBytes, Buffer.from("]")])
}

/** What a column shows of an entry; undefined for an empty cell (`null` in JSON). */
export const cellOf = (e: MountEntry, column: string, options: CellOptions): Buffer | undefined => {
  switch (column) {
    case "TARGET":
      return e.mountPointBytes
    case "SOURCE":
      return sourceCell(e, options)
    case "FSTYPE":
      return text(e.fstype)
    case "OPTIONS":
      return entryOptions(e)
    case "VFS-OPTIONS":
      return unmangle(e.mountOptions)
    case "FS-OPTIONS":
      return unmangle(e.superOptions)
    case "OPT-FIELDS":
      return text(optFields(e))
    case "PROPAGATION":
      return text(propagationText(e))
    case "ID":
      return e.mountId === 0 ? undefined : text(String(e.mountId))
    case "PARENT":
      return e.parentId === 0 ? undefined : text(String(e.parentId))
    case "MAJ:MIN":
      if (e.major === 0 && e.minor === 0) return undefined
      return text(
        options.plain
          ? `${e.major}:${e.minor}`
          : `${String(e.major).padStart(3)}:${String(e.minor).padEnd(3)}`,
      )
    case "FSROOT":
      return e.rootBytes
    case "UNIQ-ID":
      return text(e.uniqueId?.toString())
    default:
      // FREQ and PASSNO are fstab's; a mount table has none.
      return undefined
  }
}
