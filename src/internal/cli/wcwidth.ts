/**
 * Display widths and printability of Unicode code points, as glibc 2.36's `wcwidth(3)` and
 * `iswprint(3)` give them in the C.UTF-8 locale — what findmnt(8) uses to pad its columns
 * and to decide what to print as `\xHH`. A code point is 1 column wide unless this table
 * says otherwise: `z` zero (combining marks, format characters), `w` two (East Asian Wide
 * and Fullwidth), `n` not printable (controls, unassigned code points, surrogates).
 *
 * Generated from glibc itself: `test/fixtures/cli/wcwidth.c` prints every code point's class
 * and `gen-wcwidth.py` beside it turns that into the string below; `test/cli-text.test.ts`
 * compares the table with the program's output on the machine the tests run on. Each entry is a kind letter, the distance in code points from
 * the end of the previous entry and the entry's length, both in base 36.
 */

const table =
  "n0.w,n2n.x,zgw.34,n8.2,n6.4,n7.1,n1.1,nk.1,z68.7,n4m.1,n12.2,n1e.2,n3.1,z0.19,z1.1,z1.2,z1.2" +
  ",z1.1,n0.8,nr.4,n6.b,zg.b,z1.1,z1a.l,zg.1,z2t.7,z2.6,z2.2,z1.4,nw.1,z2.1,zu.r,n0.2,z2h.b,n1." +
  "e,z17.9,n7.2,z0.1,zo.4,z1.9,z1.3,z1.5,n0.2,nf.1,zp.3,n0.2,n1.1,nb.5,nv.1,n2.6,z0.8,z16.o,z1." +
  "w,z1j.1,z1.1,z4.8,z4.1,z3.7,za.2,zt.1,n2.1,n8.2,n2.2,nm.1,n7.1,n1.3,n4.2,z0.1,z4.4,n0.2,n2.2" +
  ",z2.1,n1.8,n1.4,n2.1,z3.2,n0.2,zo.1,n0.2,z0.2,n1.1,n6.4,n2.2,nm.1,n7.1,n2.1,n2.1,n2.2,z0.1,n" +
  "0.1,z3.2,n0.4,z0.2,n0.2,z0.3,n0.3,z0.1,n0.7,n4.1,n1.7,za.2,z3.1,n1.a,z0.2,n1.1,n9.1,n3.1,nm." +
  "1,n7.1,n2.1,n5.2,z0.1,z4.5,n0.1,z0.2,n1.1,z2.1,n0.2,n1.f,z2.2,n0.2,nc.7,z1.6,n0.1,z0.1,n2.1," +
  "n8.2,n2.2,nm.1,n7.1,n2.1,n5.2,z0.1,z2.1,z1.4,n0.2,n2.2,z2.1,n0.7,z0.2,n1.4,n2.1,z3.2,n0.2,ni" +
  ".a,z0.1,n1.1,n6.3,n3.1,n4.3,n2.1,n1.1,n2.3,n2.3,n3.3,nc.4,z2.1,n2.3,n3.1,z3.1,n0.2,n1.6,n1.e" +
  ",nl.5,z0.1,z3.1,n8.1,n3.1,nn.1,ng.2,z0.1,z1.3,n4.1,z0.3,n0.1,z0.4,n0.7,z0.2,n0.1,n3.2,n1.2,z" +
  "2.2,n0.2,na.7,za.1,nb.1,n3.1,nn.1,na.1,n5.2,z0.1,z2.1,n5.1,z0.1,n2.1,z2.2,n0.7,n2.6,n2.1,z2." +
  "2,n0.2,na.1,n2.d,z0.2,nb.1,n3.1,z15.2,z4.4,n0.1,n3.1,z3.1,n2.4,ze.2,n0.2,nq.1,z0.1,n2.1,ni.3" +
  ",no.1,n9.1,n1.2,n7.3,z0.1,n0.4,z3.3,n0.1,z0.1,n0.1,n8.6,na.2,n3.c,z1c.1,z2.7,n0.4,z8.8,nd.11" +
  ",n2.1,n1.1,n5.1,no.1,n1.1,za.1,z2.9,n1.2,n5.1,n1.1,z0.6,n0.2,na.2,n4.w,zo.2,zr.1,z1.1,z1.1,n" +
  "e.1,n10.4,z0.e,z1.5,z1.2,z5.b,n0.1,z0.10,n0.1,z8.1,n6.1,nd.11,z19.4,z1.6,z1.2,z2.2,zp.2,z4.3" +
  ",zg.4,zd.1,z2.2,z6.1,zf.1,n14.1,n1.5,n1.2,w1c.2o,z0.4g,n21.1,n4.2,n7.1,n1.1,n4.2,n15.1,n4.2," +
  "nx.1,n4.2,n7.1,n1.1,n4.2,nf.1,n1l.1,n4.2,n1v.2,z0.3,nt.3,nq.6,n2e.2,n6.2,nil.3,n2h.7,zi.3,n1" +
  ".9,zj.2,n3.9,zi.2,n0.c,nd.1,n3.1,z0.2,n0.c,z1g.2,z1.7,z8.1,z2.b,z9.1,n0.2,na.6,na.6,zb.5,na." +
  "6,n2h.7,z5.2,zy.1,n1.5,n1y.a,nv.1,z0.3,z4.2,n3.4,z2.1,z6.3,n0.4,n1.3,n16.2,n5.b,n18.4,nq.6,n" +
  "b.3,z1l.2,z2.1,n0.2,z1k.1,z1.7,n0.1,z0.1,z1.1,z2.8,z6.a,n0.2,z0.1,na.6,na.6,ne.2,z0.v,n0.1d," +
  "z0.4,z1c.1,z1.5,z1.1,z5.1,na.3,zr.9,nb.1,z0.2,zw.4,z2.2,z1.3,z1k.1,z1.2,z3.1,z1.3,n2.8,z1c.8" +
  ",z2.2,n0.3,nf.3,n1o.7,n17.2,nb.8,z0.3,z1.d,z1.7,z4.1,z6.1,z3.2,n1.5,z5c.1s,n7q.2,n6.2,n12.2," +
  "n6.2,n8.1,n1.1,n1.1,n1.1,nv.2,n1h.1,nf.1,ne.2,n6.1,nj.2,n3.1,n9.1,zb.5,no.2,z0.5,z1d.5,n0.1," +
  "z0.a,n2.2,nr.1,nd.3,nx.f,z0.x,n0.f,n3w.4,way.2,wd.2,w5a.4,w3.1,w2.1,n1f.p,nb.l,wbh.2,wl.2,w1" +
  "e.c,w17.1,wj.1,wd.1,w8.2,wh.2,w5.2,w8.1,w5.1,wl.1,w7.2,w1.1,w4.1,w2.1,w7.1,w4.2,ws.1,wz.1,w1" +
  ".1,w4.3,w1.1,w1p.3,wo.1,we.1,wnv.2,w1f.1,w4.1,nu.2,nw.1,z9k.3,n2.5,n19.1,n1.5,n1.2,n1k.7,n2." +
  "e,z0.1,nn.9,n7.1,n7.1,n7.1,n7.1,n7.1,n7.1,n7.1,n7.1,z0.w,n2m.y,w0.q,n0.1,w0.2h,n0.c,w0.5y,n0" +
  ".q,w0.c,n0.4,w0.16,z0.4,w0.h,n1.1,w0.2e,n0.2,z0.2,w0.2t,n0.5,w0.17,n0.1,w0.2m,n0.1,w0.2c,n0." +
  "c,w0.1b,n0.1,w0.mlp,n0.3,w0.1j,n0.9,n9o.k,z1b.4,z1.a,zw.2,z28.2,n6.8,n5n.5,n2.1,n1.1,n5.o,zg" +
  ".1,z3.1,z4.1,zp.2,z5.1,n0.3,na.6,n1k.8,z1w.2,n0.8,nc.6,z0.i,zd.1,z12.8,zp.b,n2.b,w1.t,n0.3,z" +
  "0.3,z1c.1,z2.4,z2.2,ng.1,nb.4,z7.1,np.1,z15.6,z2.2,z2.2,n0.9,z3.1,z8.1,n1.2,na.2,zw.1,z1f.1," +
  "z1.3,z2.2,z5.2,z1.1,n1.o,zh.2,z8.1,n0.a,n6.2,n6.2,n6.9,n7.1,n7.1,n1o.4,z39.1,z2.1,z4.1,n0.2," +
  "na.6,w0.8mc,n0.c,z0.n,n0.4,z0.1d,n0.4,n0.1kw,w4xs.a6,n0.2,w0.2y,n0.12,n7.c,n5.5,z1.1,no.1,n5" +
  ".1,n1.1,n2.1,n2.1,n3h.g,ncd.2,n1i.7,n1.w,zg.g,w0.a,n0.6,z0.g,w0.z,n0.1,w0.j,n0.1,w0.4,n0.4,n" +
  "5.1,n3r.2,z0.1,n0.1,w0.2o,n2m.3,n6.2,n6.2,n6.2,n3.3,w0.7,n0.1,n7.a,z0.3,n2.2,nc.1,nq.1,nj.1," +
  "n2.1,nf.2,ne.y,n3f.5,n3.4,n19.3,n2g.1,nd.3,n1.1b,z19.1,n0.3m,nt.3,n1d.f,z0.1,nr.4,n10.9,nu.5" +
  ",z12.5,n0.5,nu.1,n11.4,ne.16,n4e.2,na.6,n10.4,n10.4,n14.8,n1g.b,nc.1,nf.1,n7.1,n2.1,nb.1,nf." +
  "1,n7.1,n2.1v,n8n.9,nm.a,n8.o,n6.1,n16.1,n9.1x,n6.2,n1.1,n18.1,n2.3,n1.2,nn.1,n20.8,n9.1c,nj." +
  "1,n2.5,nx.3,nr.5,n1.1s,n1k.4,nk.2,z1b.3,n0.1,z0.2,n0.5,z0.4,n4.1,n3.1,nt.2,z0.3,n0.4,z0.1,n9" +
  ".7,n9.7,n1s.w,z11.2,n0.4,nc.9,n1i.3,nt.2,nr.5,nq.7,n4.c,n7.28,n21.1j,n1f.d,n1f.7,z16.4,n0.8," +
  "na.86,nv.1,n16.1,z0.2,n1.2,n2.26,n14.8,zm.b,n9.m,zi.4,n4.12,ns.k,nn.9,z1.1,z1i.f,n7.4,zu.1,z" +
  "2.2,n1.9,z0.3,z1d.4,z2.2,z7.1,n0.a,n1.2,np.7,na.6,z0.3,z10.5,z1.8,n0.1,ni.8,zz.1,n3.9,z0.2,z" +
  "1g.9,za.4,z2.1,ng.1,nk.b,ni.1,zs.3,z2.1,z1.2,z6.1,n0.1t,n7.1,n1.1,n4.1,nf.1,nb.6,z1b.1,z3.8," +
  "n0.5,na.6,z0.2,n2.1,n8.2,n2.2,nm.1,n7.1,n2.1,n5.1,z0.2,z3.1,n4.2,n2.2,n3.2,n1.6,n1.5,n7.2,z0" +
  ".7,n0.3,z0.5,n0.3v,z1k.8,z2.3,z1.1,nl.1,z1.1,n3.u,z1f.6,z1.1,z4.2,z1.2,n4.8,na.4m,z1e.4,n0.2" +
  ",z4.2,z1.2,zr.2,n0.y,z1f.8,z2.1,z1.2,n4.b,na.6,nd.j,z17.1,z1.1,z2.6,z1.1,n2.6,na.1i,nr.2,z0." +
  "3,z2.4,z1.5,n0.4,nn.55,z1b.9,z1.2,n1.2s,n2b.c,n8.2,n1.2,n8.1,n2.1,nu.1,n2.2,z0.2,z1.1,z4.1,n" +
  "3.9,na.1y,n8.2,z16.4,n0.2,z0.2,z4.1,n4.r,z1.a,z14.6,z2.4,z8.1,n0.8,z1.6,z2.3,z1a.d,z1.2,n9.d" +
  ",n21.7b,n9.1,z12.7,n0.1,z0.6,z1.1,n6.a,nt.3,nw.2,z0.m,n0.1,z1.7,z1.2,z1.2,n0.21,n7.1,n2.1,z1" +
  "2.6,n0.3,z0.1,n0.1,z0.2,n0.1,z0.7,z1.1,n0.8,na.6,n6.1,n2.1,n11.1,z0.2,n0.1,z2.1,z1.1,n1.7,na" +
  ".8m,zj.2,n4.53,n1.f,n1e.d,npn.2u,n33.1,n5.b,n5g.218,n2r.d,ntr.1,z0.9,n0.347,ng7.6nt,nft.7,nv" +
  ".1,na.4,n29.1,na.6,nu.2,z0.5,n1.a,z1c.7,nf.a,na.1,n7.1,nl.5,nj.j4,n2j.2t,n23.4,z0.1,n1k.7,z0" +
  ".4,nd.1s,w0.4,z0.1,n0.b,w0.2,n0.e,w0.4qg,n0.8,w0.ye,n0.16,w0.9,n0.6w7,w0.4,n0.1,w0.7,n0.1,w0" +
  ".2,n0.1,w0.83,n0.19,w0.3,n0.h,w0.4,n0.8,w0.b0,n0.1s4,n2z.5,nd.3,n9.7,na.2,z1.2,z1.4,n0.3mk,z" +
  "0.1a,n0.2,z0.n,n0.9,n38.1o,n6u.a,n13.2,z1q.3,z9.g,z2.7,zu.4,n1p.l,z1u.3,n1.4a,nk.c,n2f.9,np." +
  "3r,n2d.1,n1z.1,n2.2,n1.2,n2.2,n4.1,nc.1,n1.1,n7.1,n1t.1,n4.2,n8.1,n7.1,ns.1,n4.1,n5.1,n1.3,n" +
  "7.1,n9g.2,n84.2,zfm.1j,z4.1e,z8.1,ze.1,n7.f,z0.5,n0.1,z0.f,n0.uo,nv.69,z0.7,n0.1,z0.h,n0.2,z" +
  "0.7,n0.1,z0.2,n0.1,z0.5,n0.5x,n19.3,z0.7,n7.2,na.4,n2.8w,zu.1,n0.h,z18.4,na.5,n1.yo,n7.1,n4." +
  "1,n2.1,nf.1,n5h.2,z9.7,n0.15,z1w.7,n1.4,na.4,n2.lt,n1w.24,n1p.5e,n4.1,nr.1,n2.1,n1.2,n1.1,na" +
  ".1,n4.1,n1.1,n1.6,n1.4,n1.1,n1.1,n1.1,n3.1,n2.1,n1.2,n1.1,n1.1,n1.1,n1.1,n1.1,n2.1,n1.2,n4.1" +
  ",n7.1,n4.1,n4.1,n1.1,na.1,nh.5,n3.1,n5.1,nh.1g,n2.7i,w4.1,n13.4,n2s.c,nf.2,nf.1,we.1,n0.1,n1" +
  "1.a,w3y.1,w2.a,nj.1k,wq.3,n0.d,w0.18,n0.4,w0.9,n0.7,w0.2,n0.e,w0.6,n0.4a,w0.x,wc.9,w1.1y,w1." +
  "m,wc.17,w4.5,wc.h,w3.1,w3.1z,w1.1,w1.57,w2.1r,wd.4,w1.o,wi.1,wq.2,wd.1,w2e.2d,w1c.1y,w6.1,w3" +
  ".3,w2.3,n0.5,w0.3,wb.2,n0.3,w4.9,n0.3,n38.c,n2h.7,w0.c,n0.4,w0.1,n0.f,nc.4,n1k.8,na.6,n14.8," +
  "nu.2,n2.26,wc.1b,w1.a,w1.55,n2c.c,ne.2,w0.5,n0.3,w0.5,n0.3,w0.7,n0.9,w0.t,n0.3,w0.b,n0.5,w0." +
  "6,n0.a,w0.a,n0.6,w0.8,n0.8,w0.7,n0.9,n43.1,n1j.11,na.sm,w0.wyo,n0.w,w0.37d,n0.7,w0.66,n0.2,w" +
  "0.4g2,n0.e,w0.5rl,n0.2e7,w0.f2,n0.15u,w0.3t7,n0.fcfq,z0.1,n0.u,z0.2o,n0.3k,z0.6o,n0.1e6o,n1e" +
  "ke.2,n1eke.2"

let starts: Int32Array | undefined
let ends: Int32Array | undefined
let kinds: Int8Array | undefined

const load = (): void => {
  const entries = table.split(",")
  starts = new Int32Array(entries.length)
  ends = new Int32Array(entries.length)
  kinds = new Int8Array(entries.length)
  let at = 0
  entries.forEach((entry, i) => {
    const dot = entry.indexOf(".")
    const start = at + Number.parseInt(entry.slice(1, dot), 36)
    const end = start + Number.parseInt(entry.slice(dot + 1), 36)
    starts![i] = start
    ends![i] = end - 1
    kinds![i] = entry[0] === "z" ? 0 : entry[0] === "w" ? 2 : -1
    at = end
  })
}

/**
 * The columns a code point takes: 0, 1 or 2, or -1 when it is not printable (findmnt then
 * prints its bytes as `\xHH`). ASCII is answered without the table.
 */
export const codePointWidth = (cp: number): number => {
  if (cp < 0x7f) return cp < 0x20 ? -1 : 1
  if (starts === undefined) load()
  let lo = 0
  let hi = starts!.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (cp < starts![mid]!) hi = mid - 1
    else if (cp > ends![mid]!) lo = mid + 1
    else return kinds![mid]!
  }
  return 1
}
