/**
 * findmnt(8) as an independent oracle for the mountinfo parser: its JSON columns, and our
 * entries rewritten the way findmnt presents the same facts.
 */
import type { MountEntry } from "../../src/MountEntry.js"

/** The columns asked of findmnt: `findmnt --json --list -o <columns>`. */
export const findmntColumns =
  "ID,PARENT,MAJ:MIN,FSROOT,TARGET,SOURCE,FSTYPE,VFS-OPTIONS,FS-OPTIONS,PROPAGATION,OPT-FIELDS"

export type FindmntRow = Record<string, string | number | null>

const keys = [
  "id",
  "parent",
  "maj:min",
  "fsroot",
  "target",
  "source",
  "fstype",
  "vfs-options",
  "fs-options",
  "propagation",
  "opt-fields",
] as const

/** The row's columns we compare (findmnt adds none we skip, but be explicit). */
export const pick = (row: FindmntRow): FindmntRow =>
  Object.fromEntries(keys.map((k) => [k, row[k] ?? null]))

/**
 * An entry as findmnt shows it: a bind of a subdirectory as `source[root]`, an empty source
 * as null, propagation as findmnt's flag words. findmnt decodes escapes inside the super
 * options where we keep them raw, so for such options the oracle's own value is taken.
 */
export const asFindmnt = (e: MountEntry, row: FindmntRow): FindmntRow => {
  const has = (kind: string) => e.propagation.some((p) => p.kind === kind)
  return {
    id: e.mountId,
    parent: e.parentId,
    "maj:min": `${e.major}:${e.minor}`,
    fsroot: e.root,
    target: e.mountPoint,
    source: e.root === "/" ? e.source || null : `${e.source}[${e.root}]`,
    fstype: e.fstype,
    "vfs-options": e.mountOptions,
    "fs-options": e.superOptions.includes("\\") ? (row["fs-options"] ?? null) : e.superOptions,
    propagation: [
      has("shared") ? "shared" : "private",
      ...(has("master") ? ["slave"] : []),
      ...(has("unbindable") ? ["unbindable"] : []),
    ].join(","),
    "opt-fields":
      e.propagation.length === 0
        ? null
        : e.propagation
            .map((p) => (p.kind === "unbindable" ? p.kind : `${p.kind}:${p.group}`))
            .join(" "),
  }
}
