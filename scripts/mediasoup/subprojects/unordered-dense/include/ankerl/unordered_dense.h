// Minimal stand-in for ankerl::unordered_dense (https://github.com/martinus/unordered_dense),
// which mediasoup >= 3.2x uses for its hash maps and which Debian bookworm does not package.
//
// It maps the parts of the API that the mediasoup worker uses onto the standard containers:
//   ankerl::unordered_dense::map<K, V[, Hash[, KeyEqual[, Alloc]]]> -> std::unordered_map
//   ankerl::unordered_dense::set<K[, Hash[, KeyEqual[, Alloc]]]>    -> std::unordered_set
//   ankerl::unordered_dense::hash<T>                                -> std::hash<T>
// (plus the segmented_* variants, for completeness).
//
// Behavioural differences that do not matter to mediasoup: the standard containers are node
// based (a bit slower, more allocations) and their iterators stay valid across insertions;
// ankerl's extra members (values(), extract(), replace(), nth()) are not provided, so any use
// of them in a future mediasoup version fails to compile instead of misbehaving.
#ifndef HOICHAN_ANKERL_UNORDERED_DENSE_SHIM_H
#define HOICHAN_ANKERL_UNORDERED_DENSE_SHIM_H

#include <cstddef>
#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#define ANKERL_UNORDERED_DENSE_VERSION_MAJOR 4
#define ANKERL_UNORDERED_DENSE_VERSION_MINOR 8
#define ANKERL_UNORDERED_DENSE_VERSION_PATCH 1

namespace ankerl
{
	namespace unordered_dense
	{
		// A struct (not an alias) so that code may still specialise it for its own types.
		template<class T, class Enable = void>
		struct hash : std::hash<T>
		{
		};

		template<
		  class Key,
		  class T,
		  class Hash      = hash<Key>,
		  class KeyEqual  = std::equal_to<Key>,
		  class Allocator = std::allocator<std::pair<const Key, T>>>
		using map = std::unordered_map<Key, T, Hash, KeyEqual, Allocator>;

		template<
		  class Key,
		  class T,
		  class Hash      = hash<Key>,
		  class KeyEqual  = std::equal_to<Key>,
		  class Allocator = std::allocator<std::pair<const Key, T>>>
		using segmented_map = std::unordered_map<Key, T, Hash, KeyEqual, Allocator>;

		template<
		  class Key,
		  class Hash      = hash<Key>,
		  class KeyEqual  = std::equal_to<Key>,
		  class Allocator = std::allocator<Key>>
		using set = std::unordered_set<Key, Hash, KeyEqual, Allocator>;

		template<
		  class Key,
		  class Hash      = hash<Key>,
		  class KeyEqual  = std::equal_to<Key>,
		  class Allocator = std::allocator<Key>>
		using segmented_set = std::unordered_set<Key, Hash, KeyEqual, Allocator>;
	} // namespace unordered_dense
} // namespace ankerl

#endif
