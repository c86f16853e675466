/*
 * Placeholder translation unit for the shim's empty static library.
 * mediasoup lists the subproject's static library in `link_whole` (only for the
 * optional libmediasoup-worker shared library); the real code comes from the
 * Debian shared library found with dependency(). Never linked into the worker.
 */
typedef int hoichan_mediasoup_shim_stub_t;
