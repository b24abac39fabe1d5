/**
 * MountError's naming of errnos: every errno the kernel can return for a mount gets its
 * Linux name, also those libuv does not know (getSystemErrorName says "Unknown system
 * error" for them), so `code`, its meaning and the stage's hints line up.
 */
import { constants } from "node:os"
import { describe, expect, it } from "vitest"
import { errnoName, MountError } from "../src/MountError.js"

describe("errnoName", () => {
  it("names errnos libuv knows and those only Linux's table has", () => {
    expect(errnoName(constants.errno.EPERM)).toBe("EPERM")
    expect(errnoName(-constants.errno.EBUSY)).toBe("EBUSY")
    expect(errnoName(constants.errno.EAGAIN)).toBe("EAGAIN")
    expect(errnoName(116)).toBe("ESTALE")
    expect(errnoName(constants.errno.EDQUOT)).toBe("EDQUOT")
  })
  it("spells a number no table knows as E<number>", () => {
    expect(errnoName(1000)).toBe("E1000")
    expect(errnoName(0)).toBe("E0")
  })
  it("gives a MountError for ESTALE its meaning and the stage's hint", () => {
    const error = MountError.fromErrno("verify", "/mnt/x", 116, { verb: "umount" })
    expect(error.code).toBe("ESTALE")
    expect(error.message).toContain("ESTALE (not the mount this library made; it was left alone)")
  })
})
