// libsrtp 3.0 API compatibility header over Debian's libsrtp 2.x (libsrtp2-dev).
//
// mediasoup >= 3.13.17 is written against the libsrtp 3.0 API of its own libsrtp fork
// (versatica/libsrtp, "v3.0.0-beta"). Debian bookworm ships libsrtp 2.5. This header is
// put first on the include path by the `libsrtp3` meson shim, so the worker's
// `#include <srtp.h>` lands here. It includes the real libsrtp2 header and adds C++ inline
// functions/overloads that map every libsrtp 3.0 call made by mediasoup 3.27.x
// (src/RTC/SrtpSession.cpp, include/RTC/SrtpSession.hpp, src/DepLibSRTP.cpp) onto libsrtp 2.x:
//
//   * srtp_protect / srtp_unprotect / srtp_protect_rtcp / srtp_unprotect_rtcp with size_t
//     lengths and separate input and output buffers (3.0-beta API; `*out_len` is the output
//     capacity on input). libsrtp 2.x works in place, so the input is copied into the output
//     buffer first (no copy when they are the same buffer, which is what mediasoup does for
//     unprotect) and the capacity is checked against SRTP_MAX_TRAILER_LEN, the room libsrtp 2.x
//     may write after the packet.
//   * srtp_stream_remove -> srtp_remove_stream (renamed in 3.0).
//   * the two error codes added in 3.0: srtp_err_status_buffer_small (28) and
//     srtp_err_status_cryptex_err (29).
//   * the opaque-policy API of 3.0 (srtp_policy_t is a handle there):
//     srtp_policy_create/destroy, srtp_policy_set_ssrc, srtp_policy_set_profile,
//     srtp_policy_add_key, srtp_policy_set_allow_repeat_tx, srtp_policy_set_window_size, and
//     srtp_create taking that handle. libsrtp2's own `struct srtp_policy_t` is renamed to
//     srtp2_policy_t (with a #define around its include) so the name srtp_policy_t can become
//     the 3.0 handle type. The handle wraps a libsrtp2 policy plus storage for key||salt.
//
// Limitations (all unused by mediasoup; using them fails loudly, never silently):
//   * MKI is not supported: srtp_policy_add_key() rejects a non-empty MKI and a second key,
//     so the mki_index argument of srtp_protect*() is always irrelevant and ignored.
//   * Only the calls listed above are provided; any other 3.0-only call is a compile error.
#ifndef HOICHAN_LIBSRTP3_COMPAT_SRTP_H
#define HOICHAN_LIBSRTP3_COMPAT_SRTP_H

#ifndef __cplusplus
#error "hoichan's libsrtp 3.0 compatibility srtp.h is C++ only"
#endif

// Rename libsrtp2's policy struct (both the struct tag and its typedef) while its header is
// parsed; the C functions taking `const srtp_policy_t*` keep their C linkage and ABI.
#define srtp_policy_t srtp2_policy_t
#include <srtp2/srtp.h>
#undef srtp_policy_t

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

// The 3.0 numbering continues libsrtp2's; make sure the base is what we expect.
static_assert(srtp_err_status_pkt_idx_adv == 27, "unexpected libsrtp2 srtp_err_status_t numbering");

// Error codes added in libsrtp 3.0 (values from libsrtp 3.0's srtp.h). 28 and 29 are within
// the value range of libsrtp2's (unfixed, 0..31) enum, so the casts are well defined.
inline constexpr srtp_err_status_t srtp_err_status_buffer_small =
  static_cast<srtp_err_status_t>(28); /**< out buffer is too small */
inline constexpr srtp_err_status_t srtp_err_status_cryptex_err =
  static_cast<srtp_err_status_t>(29); /**< unsupported cryptex operation */

// ---------------------------------------------------------------------------------------------
// Opaque policy (libsrtp 3.0) over a libsrtp2 policy struct.
// ---------------------------------------------------------------------------------------------

struct hoichan_srtp3_policy
{
	srtp2_policy_t policy;                  // value-initialised: all zero, next == nullptr
	unsigned char key[SRTP_MAX_KEY_LEN];    // master key followed by master salt (libsrtp2 layout)
};

typedef hoichan_srtp3_policy* srtp_policy_t;

inline srtp_err_status_t srtp_policy_create(srtp_policy_t* policy)
{
	if (policy == nullptr)
		return srtp_err_status_bad_param;

	*policy = new (std::nothrow) hoichan_srtp3_policy();

	return (*policy != nullptr) ? srtp_err_status_ok : srtp_err_status_alloc_fail;
}

inline void srtp_policy_destroy(srtp_policy_t policy)
{
	delete policy;
}

inline srtp_err_status_t srtp_policy_set_ssrc(srtp_policy_t policy, srtp_ssrc_t ssrc)
{
	if (policy == nullptr)
		return srtp_err_status_bad_param;

	policy->policy.ssrc = ssrc;

	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_policy_set_profile(srtp_policy_t policy, srtp_profile_t profile)
{
	if (policy == nullptr)
		return srtp_err_status_bad_param;

	srtp_err_status_t err =
	  srtp_crypto_policy_set_from_profile_for_rtp(std::addressof(policy->policy.rtp), profile);

	if (err != srtp_err_status_ok)
		return err;

	return srtp_crypto_policy_set_from_profile_for_rtcp(std::addressof(policy->policy.rtcp), profile);
}

inline srtp_err_status_t srtp_policy_add_key(
  srtp_policy_t policy,
  const uint8_t* key,
  size_t key_len,
  const uint8_t* salt,
  size_t salt_len,
  const uint8_t* mki,
  size_t mki_len)
{
	if (policy == nullptr || key == nullptr || (salt == nullptr && salt_len != 0))
		return srtp_err_status_bad_param;

	// Single key, no MKI: that is all libsrtp2's plain `key` field can express.
	if (mki != nullptr || mki_len != 0 || policy->policy.key != nullptr)
		return srtp_err_status_bad_param;

	if (key_len + salt_len > sizeof(policy->key))
		return srtp_err_status_bad_param;

	// libsrtp2's cipher_key_len is master key + master salt; it is set by
	// srtp_policy_set_profile(), which must therefore come first (as in mediasoup).
	if (policy->policy.rtp.cipher_key_len <= 0 ||
	    static_cast<size_t>(policy->policy.rtp.cipher_key_len) != key_len + salt_len)
		return srtp_err_status_bad_param;

	std::memcpy(policy->key, key, key_len);
	if (salt_len != 0)
		std::memcpy(policy->key + key_len, salt, salt_len);

	policy->policy.key = policy->key;

	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_policy_set_allow_repeat_tx(srtp_policy_t policy, bool allow)
{
	if (policy == nullptr)
		return srtp_err_status_bad_param;

	policy->policy.allow_repeat_tx = allow ? 1 : 0;

	return srtp_err_status_ok;
}

inline srtp_err_status_t srtp_policy_set_window_size(srtp_policy_t policy, size_t window_size)
{
	if (policy == nullptr)
		return srtp_err_status_bad_param;

	// libsrtp2 accepts 0 (default, 128) or 64 <= size < 2^15 (checked again by srtp_create()).
	if (window_size != 0 && (window_size < 64 || window_size >= 0x8000))
		return srtp_err_status_bad_param;

	policy->policy.window_size = static_cast<unsigned long>(window_size);

	return srtp_err_status_ok;
}

// srtp_create() taking the 3.0 handle; a C++ overload of libsrtp2's C function.
inline srtp_err_status_t srtp_create(srtp_t* session, const hoichan_srtp3_policy* policy)
{
	if (policy == nullptr)
		return ::srtp_create(session, static_cast<const srtp2_policy_t*>(nullptr));

	// The 3.0 handle describes exactly one stream policy.
	srtp2_policy_t single = policy->policy;
	single.next           = nullptr;

	return ::srtp_create(session, std::addressof(single));
}

// ---------------------------------------------------------------------------------------------
// Stream removal (renamed in 3.0).
// ---------------------------------------------------------------------------------------------

inline srtp_err_status_t srtp_stream_remove(srtp_t session, uint32_t ssrc)
{
	return srtp_remove_stream(session, ssrc);
}

// ---------------------------------------------------------------------------------------------
// Protect / unprotect with size_t lengths and separate in/out buffers (3.0-beta API).
// ---------------------------------------------------------------------------------------------

namespace hoichan_srtp3_detail
{
	// Copies `in` to `out` (if different) and checks that `out` (capacity *out_len) can hold
	// in_len + extra bytes, and that the length fits libsrtp2's int lengths.
	inline srtp_err_status_t prepare(
	  const uint8_t* in, size_t in_len, uint8_t* out, const size_t* out_len, size_t extra, int* len)
	{
		if (in == nullptr || out == nullptr || out_len == nullptr || len == nullptr)
			return srtp_err_status_bad_param;

		if (in_len > static_cast<size_t>(INT_MAX) - extra)
			return srtp_err_status_bad_param;

		if (*out_len < in_len + extra)
			return srtp_err_status_buffer_small;

		if (out != in)
			std::memmove(out, in, in_len);

		*len = static_cast<int>(in_len);

		return srtp_err_status_ok;
	}
} // namespace hoichan_srtp3_detail

inline srtp_err_status_t srtp_protect(
  srtp_t ctx,
  const uint8_t* rtp,
  size_t rtp_len,
  uint8_t* srtp,
  size_t* srtp_len,
  size_t /*mki_index: MKI unsupported, see above*/)
{
	int len{ 0 };
	srtp_err_status_t err =
	  hoichan_srtp3_detail::prepare(rtp, rtp_len, srtp, srtp_len, SRTP_MAX_TRAILER_LEN, &len);

	if (err != srtp_err_status_ok)
		return err;

	err = ::srtp_protect(ctx, srtp, &len);

	if (err == srtp_err_status_ok)
		*srtp_len = static_cast<size_t>(len);

	return err;
}

inline srtp_err_status_t srtp_unprotect(
  srtp_t ctx, const uint8_t* srtp, size_t srtp_len, uint8_t* rtp, size_t* rtp_len)
{
	int len{ 0 };
	srtp_err_status_t err = hoichan_srtp3_detail::prepare(srtp, srtp_len, rtp, rtp_len, 0, &len);

	if (err != srtp_err_status_ok)
		return err;

	err = ::srtp_unprotect(ctx, rtp, &len);

	if (err == srtp_err_status_ok)
		*rtp_len = static_cast<size_t>(len);

	return err;
}

inline srtp_err_status_t srtp_protect_rtcp(
  srtp_t ctx,
  const uint8_t* rtcp,
  size_t rtcp_len,
  uint8_t* srtcp,
  size_t* srtcp_len,
  size_t /*mki_index: MKI unsupported, see above*/)
{
	// SRTCP appends the 4-byte E+index word and the tag; without MKI that is at most
	// 4 + SRTP_MAX_TAG_LEN = 20 bytes, well within SRTP_MAX_TRAILER_LEN (144), which is what
	// mediasoup reserves before calling this.
	int len{ 0 };
	srtp_err_status_t err =
	  hoichan_srtp3_detail::prepare(rtcp, rtcp_len, srtcp, srtcp_len, SRTP_MAX_TRAILER_LEN, &len);

	if (err != srtp_err_status_ok)
		return err;

	err = ::srtp_protect_rtcp(ctx, srtcp, &len);

	if (err == srtp_err_status_ok)
		*srtcp_len = static_cast<size_t>(len);

	return err;
}

inline srtp_err_status_t srtp_unprotect_rtcp(
  srtp_t ctx, const uint8_t* srtcp, size_t srtcp_len, uint8_t* rtcp, size_t* rtcp_len)
{
	int len{ 0 };
	srtp_err_status_t err =
	  hoichan_srtp3_detail::prepare(srtcp, srtcp_len, rtcp, rtcp_len, 0, &len);

	if (err != srtp_err_status_ok)
		return err;

	err = ::srtp_unprotect_rtcp(ctx, rtcp, &len);

	if (err == srtp_err_status_ok)
		*rtcp_len = static_cast<size_t>(len);

	return err;
}

#endif
