"""Numba kernels of the router's hot path (ROUTER_SPEC.md steps 1 and 3-7).

Shared guarantees: no fast-math, no BLAS, no libm (see portable_math.py), no
parallel loops, every reduction in a fixed order. Scores, weights, the stats
and every discrete output are therefore bitwise identical on every run, and
built from IEEE-754 operations only, so they do not depend on the CPU model,
the vector width or the C library - which replay and the content hashes of
decision traces rely on. Explicit vector IR (simd.py) computes exactly the
scalar recurrences. Pure-numpy references live in ``tests/routing``.

Caching: numba's on-disk cache notices edits to a kernel's own module but not
to kernels it calls in other modules; after editing one, delete this
package's ``__pycache__`` before measuring or testing.
"""
