//! A serde `Deserializer` over a borrowed `serde_json::Value`: the borrowing twin of
//! `de.rs`, handing out `&'de str` and `&'de [u8]` (attachments included) instead of copies.

use std::borrow::Cow;

use bytes::Bytes;
use serde::de::{
    DeserializeSeed, Deserializer, EnumAccess, Error as _, MapAccess, SeqAccess, Unexpected,
    VariantAccess, Visitor,
};
use serde_json::{Map, Value};

use super::de::{unexpected, visit_bytes_as_seq};
use super::key::KeyDeserializer;
use super::{is_json_value_visitor, resolve};
use crate::Error;

pub(super) struct RefDeserializer<'de> {
    value: &'de Value,
    attachments: &'de [Bytes],
}

impl<'de> RefDeserializer<'de> {
    pub(super) fn new(value: &'de Value, attachments: &'de [Bytes]) -> Self {
        RefDeserializer { value, attachments }
    }

    /// The attachment `self.value` stands for, if it is a placeholder.
    fn attachment(&self) -> Option<Result<&'de Bytes, Error>> {
        match self.value {
            Value::Object(map) => resolve(map, self.attachments),
            _ => None,
        }
    }

    /// The value as plain JSON, placeholders included.
    fn deserialize_plain<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(n) = n.as_u64() {
                    visitor.visit_u64(n)
                } else if let Some(n) = n.as_i64() {
                    visitor.visit_i64(n)
                } else if let Some(n) = n.as_f64() {
                    visitor.visit_f64(n)
                } else {
                    Err(Error::Deserialize(format!("unsupported number {n}")))
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visit_array(items, self.attachments, visitor),
            Value::Object(map) => visit_object(map, self.attachments, visitor),
        }
    }

    fn invalid_type<V: Visitor<'de>>(&self, visitor: &V) -> Error {
        Error::invalid_type(unexpected(self.value), visitor)
    }
}

fn visit_array<'de, V: Visitor<'de>>(
    items: &'de [Value],
    attachments: &'de [Bytes],
    visitor: V,
) -> Result<V::Value, Error> {
    let mut seq = SeqRefDeserializer {
        iter: items.iter(),
        attachments,
    };
    let value = visitor.visit_seq(&mut seq)?;
    if seq.iter.len() == 0 {
        Ok(value)
    } else {
        Err(Error::invalid_length(
            items.len(),
            &"fewer elements in array",
        ))
    }
}

fn visit_object<'de, V: Visitor<'de>>(
    map: &'de Map<String, Value>,
    attachments: &'de [Bytes],
    visitor: V,
) -> Result<V::Value, Error> {
    let mut access = MapRefDeserializer {
        iter: map.iter(),
        value: None,
        attachments,
    };
    let value = visitor.visit_map(&mut access)?;
    if access.iter.len() == 0 {
        Ok(value)
    } else {
        Err(Error::invalid_length(map.len(), &"fewer elements in map"))
    }
}

impl<'de> Deserializer<'de> for RefDeserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if !is_json_value_visitor::<V>() {
            if let Some(bytes) = self.attachment() {
                return visitor.visit_borrowed_bytes(bytes?);
            }
        }
        self.deserialize_plain(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            _ => Err(self.invalid_type(&visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if let Some(bytes) = self.attachment() {
            return visitor.visit_borrowed_bytes(bytes?);
        }
        match self.value {
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visit_array(items, self.attachments, visitor),
            _ => Err(self.invalid_type(&visitor)),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if let Some(bytes) = self.attachment() {
            return visit_bytes_as_seq(bytes?, visitor);
        }
        match self.value {
            Value::Array(items) => visit_array(items, self.attachments, visitor),
            _ => Err(self.invalid_type(&visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Object(map) => visit_object(map, self.attachments, visitor),
            _ => Err(self.invalid_type(&visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Value::Object(map) => visit_object(map, self.attachments, visitor),
            Value::Array(items) => visit_array(items, self.attachments, visitor),
            _ => Err(self.invalid_type(&visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let (variant, value) = match self.value {
            Value::String(variant) => (variant.as_str(), None),
            Value::Object(map) => {
                let mut iter = map.iter();
                match (iter.next(), iter.next()) {
                    (Some((variant, value)), None) => (variant.as_str(), Some(value)),
                    _ => {
                        return Err(Error::invalid_value(
                            Unexpected::Map,
                            &"map with a single key",
                        ));
                    }
                }
            }
            other => {
                return Err(Error::invalid_type(unexpected(other), &"string or map"));
            }
        };
        visitor.visit_enum(EnumRefDeserializer {
            variant,
            value,
            attachments: self.attachments,
        })
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    // Scalars and strings: the visitor checks the type, so plain JSON is all they need.
    forward_to_plain! {
        deserialize_bool
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_identifier
    }
}

struct SeqRefDeserializer<'de> {
    iter: std::slice::Iter<'de, Value>,
    attachments: &'de [Bytes],
}

impl<'de> SeqAccess<'de> for SeqRefDeserializer<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.iter.next() {
            Some(value) => seed
                .deserialize(RefDeserializer::new(value, self.attachments))
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct MapRefDeserializer<'de> {
    iter: serde_json::map::Iter<'de>,
    value: Option<&'de Value>,
    attachments: &'de [Bytes],
}

impl<'de> MapAccess<'de> for MapRefDeserializer<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(KeyDeserializer::new(Cow::Borrowed(key)))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(value) => seed.deserialize(RefDeserializer::new(value, self.attachments)),
            None => Err(Error::custom("value is missing")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct EnumRefDeserializer<'de> {
    variant: &'de str,
    value: Option<&'de Value>,
    attachments: &'de [Bytes],
}

impl<'de> EnumAccess<'de> for EnumRefDeserializer<'de> {
    type Error = Error;
    type Variant = VariantRefDeserializer<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantRefDeserializer<'de>), Error> {
        let variant = seed.deserialize(KeyDeserializer::new(Cow::Borrowed(self.variant)))?;
        Ok((
            variant,
            VariantRefDeserializer {
                value: self.value,
                attachments: self.attachments,
            },
        ))
    }
}

struct VariantRefDeserializer<'de> {
    value: Option<&'de Value>,
    attachments: &'de [Bytes],
}

impl<'de> VariantAccess<'de> for VariantRefDeserializer<'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.value {
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(Error::invalid_type(unexpected(other), &"unit variant")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        match self.value {
            Some(value) => seed.deserialize(RefDeserializer::new(value, self.attachments)),
            None => Err(Error::invalid_type(
                Unexpected::UnitVariant,
                &"newtype variant",
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Some(Value::Array(items)) => visit_array(items, self.attachments, visitor),
            Some(other) => Err(Error::invalid_type(unexpected(other), &"tuple variant")),
            None => Err(Error::invalid_type(
                Unexpected::UnitVariant,
                &"tuple variant",
            )),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Some(Value::Object(map)) => visit_object(map, self.attachments, visitor),
            Some(other) => Err(Error::invalid_type(unexpected(other), &"struct variant")),
            None => Err(Error::invalid_type(
                Unexpected::UnitVariant,
                &"struct variant",
            )),
        }
    }
}
