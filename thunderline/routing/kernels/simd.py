"""The gate's matrix product as 8×8 register tiles, written as LLVM vector IR.

Why IR: numba leaves LLVM's SLP vectorizer off, and its loop vectorizer only
vectorizes innermost loops - over e = 16 experts that loop is shorter than the
width it picks, so it ran scalar; over tokens it needs X transposed first and
accumulators round-tripping through memory. Here one tile keeps 8 tokens ×
8 experts in eight vector registers for the whole sum over d, reading X in
place (each x broadcast to a vector) and one row of W per step.

Bits: every logit is x₀·w₀, then one fma per k in order, exactly the scalar
recurrence, so the result does not depend on the tile shape or the vector
width - and llvm.fma rounds once with or without hardware FMA.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: Tokens and experts per tile (both equal the vector width).
TILE = 8


def transpose_plan(size: int = TILE) -> list[tuple[int, int, list[int], list[int]]]:
    """Two-input shuffles that transpose ``size`` vectors of ``size`` lanes in log2(size) butterfly stages.

    Each entry ``(i, k, lo, hi)`` replaces vectors i and k by ``shuffle(v_i, v_k, lo)`` and
    ``shuffle(v_i, v_k, hi)`` (indices ≥ size pick from v_k): the off-diagonal blocks swap.
    """
    plan = []
    s = 1
    while s < size:
        for i in range(size):
            if i & s:
                continue
            lo = [lane if not lane & s else size + lane - s for lane in range(size)]
            hi = [lane + s if not lane & s else size + lane for lane in range(size)]
            plan.append((i, i + s, lo, hi))
        s *= 2
    return plan


@intrinsic
def logits_tile(typingctx, X, t0, W, out, i0, j0):
    """``out[j0 + q, i0 + r] = Σ_k X[t0 + r, k]·W[k, j0 + q]`` for r, q < 8.

    X (n×d), W (d×EP) and out (EP×B) must be C-contiguous float64 with rows
    t0..t0+7 of X, columns j0..j0+7 of W and out[j0.., i0..i0+7] in bounds;
    the caller pads W with zero columns to a multiple of 8.
    """
    sig = types.void(X, types.intp, W, out, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        x_ty, _, w_ty, out_ty = signature.args[:4]
        xa = context.make_array(x_ty)(context, builder, args[0])
        wa = context.make_array(w_ty)(context, builder, args[2])
        oa = context.make_array(out_ty)(context, builder, args[3])
        t0, i0, j0 = args[1], args[4], args[5]
        intp = t0.type
        i32 = ir.IntType(32)
        vec = ir.VectorType(ir.DoubleType(), TILE)
        vptr = vec.as_pointer()
        d = cgutils.unpack_tuple(builder, xa.shape, 2)[1]
        w_cols = cgutils.unpack_tuple(builder, wa.shape, 2)[1]
        out_cols = cgutils.unpack_tuple(builder, oa.shape, 2)[1]
        fma = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vec, [vec, vec, vec]), f"llvm.fma.v{TILE}f64"
        )
        undef = ir.Constant(vec, ir.Undefined)
        broadcast = ir.Constant(ir.VectorType(i32, TILE), [0] * TILE)

        def const(v):
            return ir.Constant(intp, v)

        def x_splat(r, k):
            idx = builder.add(builder.mul(builder.add(t0, const(r)), d), k)
            x = builder.load(builder.gep(xa.data, [idx]))
            return builder.shuffle_vector(builder.insert_element(undef, x, ir.Constant(i32, 0)), undef, broadcast)

        def w_row(k):
            ptr = builder.gep(wa.data, [builder.add(builder.mul(k, w_cols), j0)])
            return builder.load(builder.bitcast(ptr, vptr), align=8)

        w0 = w_row(const(0))
        first = [builder.fmul(x_splat(r, const(0)), w0) for r in range(TILE)]
        entry = builder.block
        loop = builder.append_basic_block("tile.loop")
        done = builder.append_basic_block("tile.done")
        builder.cbranch(builder.icmp_signed(">", d, const(1)), loop, done)

        builder.position_at_end(loop)
        k = builder.phi(intp)
        acc = [builder.phi(vec) for _ in range(TILE)]
        w = w_row(k)
        step = [builder.call(fma, [x_splat(r, k), w, acc[r]]) for r in range(TILE)]
        k_next = builder.add(k, const(1))
        k.add_incoming(const(1), entry)
        k.add_incoming(k_next, loop)
        for r in range(TILE):
            acc[r].add_incoming(first[r], entry)
            acc[r].add_incoming(step[r], loop)
        builder.cbranch(builder.icmp_signed("<", k_next, d), loop, done)

        builder.position_at_end(done)
        rows = []
        for r in range(TILE):  # row r: token t0 + r, lanes over experts
            final = builder.phi(vec)
            final.add_incoming(first[r], entry)
            final.add_incoming(step[r], loop)
            rows.append(final)
        for i, k2, lo, hi in transpose_plan():  # now row q: expert j0 + q, lanes over tokens
            a, b = rows[i], rows[k2]
            rows[i] = builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(i32, TILE), lo))
            rows[k2] = builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(i32, TILE), hi))
        for q in range(TILE):
            ptr = builder.gep(oa.data, [builder.add(builder.mul(builder.add(j0, const(q)), out_cols), i0)])
            builder.store(rows[q], builder.bitcast(ptr, vptr), align=8)
        return context.get_dummy_value()

    return sig, codegen
