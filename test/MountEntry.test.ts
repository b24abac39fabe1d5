import { inspect } from "node:util"
import { describe, expect, it } from "vitest"
import { MountEntry, type MountEntryFields } from "../src/MountEntry.js"

const fields: MountEntryFields = {
  mountId: 27,
  parentId: 1,
  major: 254,
  minor: 0,
  root: "/",
  mountPoint: "/",
  mountOptions: "rw,relatime",
  propagation: [{ kind: "shared", group: 1 }],
  fstype: "ext4",
  source: "/dev/vda",
  superOptions: "rw,discard",
}

describe("MountEntry", () => {
  it("holds exactly the eleven fields", () => {
    const entry = new MountEntry(fields)
    expect(Object.keys(entry).sort()).toEqual(Object.keys(fields).sort())
    expect({ ...entry }).toEqual(fields)
  })

  it("inspects as MountEntry<fstype on mountPoint (options)>", () => {
    const entry = new MountEntry(fields)
    expect(inspect(entry)).toBe("MountEntry<ext4 on / (rw,relatime)>")
    expect(String(entry)).toBe("MountEntry<ext4 on / (rw,relatime)>")
    expect(inspect([entry])).toBe("[ MountEntry<ext4 on / (rw,relatime)> ]")
  })

  it("keeps its summary on one line whatever the path holds", () => {
    const entry = new MountEntry({ ...fields, mountPoint: "/a b\nc\td", fstype: "tmpfs" })
    expect(inspect(entry)).toBe("MountEntry<tmpfs on /a b\\x0ac\\x09d (rw,relatime)>")
  })

  it("serialises to a plain object of every field", () => {
    const entry = new MountEntry(fields)
    const json = entry.toJSON()
    expect(json).toEqual(fields)
    expect(Object.getPrototypeOf(json)).toBe(Object.prototype)
    expect(json.propagation).not.toBe(entry.propagation)
    expect(JSON.parse(JSON.stringify(entry))).toEqual(fields)
    expect(
      JSON.parse(JSON.stringify({ ...fields, propagation: [{ kind: "unbindable" }] })),
    ).toEqual(new MountEntry({ ...fields, propagation: [{ kind: "unbindable" }] }).toJSON())
  })
})
