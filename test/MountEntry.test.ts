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
  it("holds exactly the eleven fields and uniqueId", () => {
    const entry = new MountEntry(fields)
    expect(Object.keys(entry).sort()).toEqual([...Object.keys(fields), "uniqueId"].sort())
    expect({ ...entry }).toEqual({ ...fields, uniqueId: undefined })
    expect(new MountEntry({ ...fields, uniqueId: 2n ** 63n + 5n }).uniqueId).toBe(2n ** 63n + 5n)
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

  it("shows the bytes of a mount point that are not UTF-8 as \\xHH", () => {
    const bytes = Buffer.from([0x2f, 0x61, 0xff, 0xc3, 0xa9, 0x0a, 0xe2, 0x82])
    const entry = new MountEntry(
      { ...fields, mountPoint: bytes.toString("utf8") },
      { mountPoint: bytes },
    )
    expect(String(entry)).toBe("MountEntry<ext4 on /a\\xffé\\x0a\\xe2\\x82 (rw,relatime)>")
    // Another name with the same string prints differently.
    const other = Buffer.from([0x2f, 0x61, 0xfe, 0xc3, 0xa9, 0x0a, 0xe2, 0x82])
    expect(
      String(new MountEntry({ ...fields, mountPoint: other.toString() }, { mountPoint: other })),
    ).toBe("MountEntry<ext4 on /a\\xfeé\\x0a\\xe2\\x82 (rw,relatime)>")
  })

  it("gives the bytes of its names: kept when not UTF-8, else from the string", () => {
    const raw = Buffer.from([0x2f, 0xff])
    const entry = new MountEntry(
      { ...fields, mountPoint: "/\uFFFD", source: "é" },
      { mountPoint: raw, source: Buffer.from("é"), root: undefined },
    )
    expect(entry.mountPointBytes).toEqual(raw)
    expect(entry.sourceBytes).toEqual(Buffer.from("é"))
    expect(entry.rootBytes).toEqual(Buffer.from("/"))
    // A copy each time: the entry's bytes cannot be changed from outside.
    entry.mountPointBytes[1] = 0
    raw[1] = 0
    expect(entry.mountPointBytes).toEqual(Buffer.from([0x2f, 0xff]))
    expect(new MountEntry({ ...fields, mountPoint: "/\uFFFD" }).mountPointBytes).toEqual(
      Buffer.from("/\uFFFD"),
    )
  })

  it("serialises uniqueId as a decimal string, and leaves it out when there is none", () => {
    const id = 2n ** 64n - 1n
    const entry = new MountEntry({ ...fields, uniqueId: id })
    expect(entry.toJSON()).toEqual({ ...fields, uniqueId: "18446744073709551615" })
    expect(JSON.parse(JSON.stringify(entry))).toEqual({ ...fields, uniqueId: id.toString() })
    expect("uniqueId" in new MountEntry(fields).toJSON()).toBe(false)
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
