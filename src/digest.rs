//! Hashes of serializable values: what input hashes are made of.
//!
//! A value is fed to blake3 through its `Serialize` impl in a compact,
//! self-delimiting encoding (a tag per item, lengths before strings, field
//! names, an end mark after every sequence, map and struct), so two
//! different values of one type never feed the same bytes. It does what
//! hashing the value's JSON did, without formatting numbers, escaping
//! strings or spelling hashes out as text: a list page hashes the views it
//! shows, and a site has thousands of list pages.

use serde::Serialize;
use serde::ser;

use crate::discover::Hash;

/// Feeds `value` into `h`.
pub fn feed(h: &mut blake3::Hasher, value: &impl Serialize) {
    Feeder::new(h).feed(value);
}

/// Feeds many values into one hasher through one buffer: [`feed`] per
/// value allocates a buffer and hands the hasher a few bytes each time.
pub struct Feeder<'h>(Digest<'h>);

impl<'h> Feeder<'h> {
    pub fn new(h: &'h mut blake3::Hasher) -> Feeder<'h> {
        Feeder(Digest { buf: Vec::with_capacity(1024), h })
    }

    /// Feeds `value` as [`feed`] does.
    pub fn feed(&mut self, value: &impl Serialize) {
        value.serialize(&mut self.0).expect("hashing cannot fail");
    }
}

impl Drop for Feeder<'_> {
    fn drop(&mut self) {
        self.0.h.update(&self.0.buf);
    }
}

/// The hash of `value`.
pub fn of(value: &impl Serialize) -> Hash {
    let mut h = blake3::Hasher::new();
    feed(&mut h, value);
    *h.finalize().as_bytes()
}

/// Writes a hash as its 32 bytes (`#[serde(serialize_with = "digest::raw")]`).
pub fn raw<S: ser::Serializer>(hash: &&Hash, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(&hash[..])
}

// One tag per kind of item.
const BOOL: u8 = 1;
const INT: u8 = 2;
const UINT: u8 = 3;
const FLOAT: u8 = 4;
const CHAR: u8 = 5;
const STR: u8 = 6;
const BYTES: u8 = 7;
const NONE: u8 = 8;
const SOME: u8 = 9;
const UNIT: u8 = 10;
const VARIANT: u8 = 11;
const SEQ: u8 = 12;
const MAP: u8 = 13;
const STRUCT: u8 = 14;
/// Before every element of a sequence, map or struct.
const ITEM: u8 = 15;
/// After the last element.
const END: u8 = 16;

/// Buffers what it is fed (hashing a few bytes at a time is slow) and
/// hands the hasher a block at a time.
struct Digest<'h> {
    buf: Vec<u8>,
    h: &'h mut blake3::Hasher,
}

impl Digest<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= 16 * 1024 {
            self.h.update(&self.buf);
            self.buf.clear();
        }
    }

    fn tag(&mut self, tag: u8) {
        self.put(&[tag]);
    }

    fn text(&mut self, tag: u8, bytes: &[u8]) {
        self.tag(tag);
        self.put(&(bytes.len() as u64).to_le_bytes());
        self.put(bytes);
    }

    fn variant(&mut self, index: u32) {
        self.tag(VARIANT);
        self.put(&index.to_le_bytes());
    }
}

/// An impossible error: hashing cannot fail, but serde needs a type.
#[derive(Debug)]
pub struct Never;

impl std::fmt::Display for Never {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a value that cannot be hashed")
    }
}

impl std::error::Error for Never {}

impl ser::Error for Never {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Never
    }
}

impl<'a, 'h> ser::Serializer for &'a mut Digest<'h> {
    type Ok = ();
    type Error = Never;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> Result<(), Never> {
        self.put(&[BOOL, v as u8]);
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Never> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Never> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Never> {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Never> {
        self.serialize_i128(v.into())
    }
    fn serialize_i128(self, v: i128) -> Result<(), Never> {
        self.tag(INT);
        self.put(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Never> {
        self.serialize_u64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(), Never> {
        self.serialize_u64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(), Never> {
        self.serialize_u64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Never> {
        self.serialize_u128(v.into())
    }
    fn serialize_u128(self, v: u128) -> Result<(), Never> {
        self.tag(UINT);
        self.put(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), Never> {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Never> {
        self.tag(FLOAT);
        self.put(&v.to_bits().to_le_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Never> {
        self.tag(CHAR);
        self.put(&u32::from(v).to_le_bytes());
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Never> {
        self.text(STR, v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Never> {
        self.text(BYTES, v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), Never> {
        self.tag(NONE);
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), Never> {
        self.tag(SOME);
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Never> {
        self.tag(UNIT);
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Never> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, index: u32, _: &'static str) -> Result<(), Never> {
        self.variant(index);
        Ok(())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, value: &T) -> Result<(), Never> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        value: &T,
    ) -> Result<(), Never> {
        self.variant(index);
        value.serialize(self)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self, Never> {
        self.tag(SEQ);
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self, Never> {
        self.tag(SEQ);
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, Never> {
        self.tag(SEQ);
        Ok(self)
    }
    fn serialize_tuple_variant(self, _: &'static str, index: u32, _: &'static str, _: usize) -> Result<Self, Never> {
        self.variant(index);
        self.tag(SEQ);
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self, Never> {
        self.tag(MAP);
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Never> {
        self.tag(STRUCT);
        Ok(self)
    }
    fn serialize_struct_variant(self, _: &'static str, index: u32, _: &'static str, _: usize) -> Result<Self, Never> {
        self.variant(index);
        self.tag(STRUCT);
        Ok(self)
    }
}

impl ser::SerializeSeq for &mut Digest<'_> {
    type Ok = ();
    type Error = Never;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Never> {
        self.tag(ITEM);
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Never> {
        self.tag(END);
        Ok(())
    }
}

impl ser::SerializeTuple for &mut Digest<'_> {
    type Ok = ();
    type Error = Never;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Never> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Never> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for &mut Digest<'_> {
    type Ok = ();
    type Error = Never;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Never> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Never> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleVariant for &mut Digest<'_> {
    type Ok = ();
    type Error = Never;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Never> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<(), Never> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeMap for &mut Digest<'_> {
    type Ok = ();
    type Error = Never;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), Never> {
        self.tag(ITEM);
        key.serialize(&mut **self)
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Never> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Never> {
        self.tag(END);
        Ok(())
    }
}

impl ser::SerializeStruct for &mut Digest<'_> {
    type Ok = ();
    type Error = Never;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), Never> {
        // The name: a field left out (`skip_serializing_if`) cannot pass
        // for the next one.
        self.tag(ITEM);
        self.text(STR, key.as_bytes());
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Never> {
        self.tag(END);
        Ok(())
    }
}

impl ser::SerializeStructVariant for &mut Digest<'_> {
    type Ok = ();
    type Error = Never;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), Never> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }
    fn end(self) -> Result<(), Never> {
        ser::SerializeStruct::end(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Page<'a> {
        title: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        subtitle: Option<&'a str>,
        tags: Vec<&'a str>,
        extra: serde_json::Value,
    }

    #[test]
    fn values_that_differ_hash_differently_even_where_their_bytes_could_run_together() {
        let page = |title, subtitle, tags: Vec<&'static str>| Page { title, subtitle, tags, extra: serde_json::json!({"a": 1}) };
        let hashes = [
            of(&page("ab", None, vec![])),
            of(&page("a", Some("b"), vec![])),
            of(&page("a", None, vec!["b"])),
            of(&page("", None, vec!["a", "b"])),
            of(&page("", None, vec!["ab"])),
            of(&(Some(()), ())),
            of(&(None::<()>, ())),
            of(&vec![vec![1u8], vec![]]),
            of(&vec![vec![], vec![1u8]]),
        ];
        for (i, a) in hashes.iter().enumerate() {
            for b in &hashes[i + 1..] {
                assert_ne!(a, b, "two values hashed alike");
            }
        }
        assert_eq!(of(&page("ab", None, vec!["x"])), of(&page("ab", None, vec!["x"])), "the same value, the same hash");
    }

    #[test]
    fn a_value_larger_than_the_buffer_hashes_as_a_whole() {
        let long: Vec<String> = (0..5000).map(|i| format!("item {i}")).collect();
        let mut changed = long.clone();
        changed[4999].push('!');
        assert_ne!(of(&long), of(&changed));
        assert_eq!(of(&long), of(&long.clone()));
    }
}
