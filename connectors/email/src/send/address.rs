//! Addresses as requests give them: [`Mailbox`] (one address, with an optional display
//! name) and [`Addresses`] (one or a list).

use std::borrow::Cow;

use connector_sdk::schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use connector_sdk::serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use lettre::message::Mailbox as LettreMailbox;

/// An address: `"a@example.com"`, `"Name <a@example.com>"` or
/// `{"name": "Name", "address": "a@example.com"}`. Display names may be any Unicode;
/// they are encoded for the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox(pub(crate) LettreMailbox);

impl Mailbox {
    /// The address without the name.
    pub fn address(&self) -> &lettre::Address {
        &self.0.email
    }
}

impl std::str::FromStr for Mailbox {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s.contains(['\r', '\n']) {
            return Err("an address may not contain line breaks".into());
        }
        s.trim().parse::<LettreMailbox>().map(Mailbox).map_err(|e| {
            format!(
                "`{s}` is not an address like \"a@example.com\" or \"Name <a@example.com>\": {e}"
            )
        })
    }
}

impl<'de> Deserialize<'de> for Mailbox {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Mailbox;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    r#"an address: "a@example.com", "Name <a@example.com>" or {"name", "address"}"#,
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Mailbox, E> {
                s.parse().map_err(E::custom)
            }
            fn visit_map<A: de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Mailbox, A::Error> {
                let (mut name, mut address): (Option<String>, Option<String>) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "name" => name = map.next_value()?,
                        "address" => address = Some(map.next_value()?),
                        other => return Err(de::Error::unknown_field(other, &["name", "address"])),
                    }
                }
                let address = address.ok_or_else(|| de::Error::missing_field("address"))?;
                if address.contains(['\r', '\n'])
                    || name.as_deref().is_some_and(|n| n.contains(['\r', '\n']))
                {
                    return Err(de::Error::custom("an address may not contain line breaks"));
                }
                let email = address.trim().parse::<lettre::Address>().map_err(|e| {
                    de::Error::custom(format!(
                        "`{address}` is not an address like \"a@example.com\": {e}"
                    ))
                })?;
                Ok(Mailbox(LettreMailbox::new(
                    name.filter(|n| !n.is_empty()),
                    email,
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Mailbox {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match &self.0.name {
            Some(name) => s.serialize_str(&format!("{name} <{}>", self.0.email)),
            None => s.serialize_str(self.0.email.as_ref()),
        }
    }
}

impl JsonSchema for Mailbox {
    fn schema_name() -> Cow<'static, str> {
        "Mailbox".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An address: \"a@example.com\", \"Name <a@example.com>\" or {\"name\", \"address\"}.",
            "oneOf": [
                {"type": "string", "description": "\"a@example.com\" or \"Name <a@example.com>\"."},
                {
                    "type": "object",
                    "description": "An address with an optional display name.",
                    "properties": {
                        "name": {"type": ["string", "null"], "description": "The display name."},
                        "address": {"type": "string", "description": "The address itself."}
                    },
                    "required": ["address"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// One address or a list of them: `"a@example.com"`, `{"name", "address"}` or
/// `["a@example.com", "Name <b@example.com>"]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses(pub Vec<Mailbox>);

impl Addresses {
    /// Whether there is no address.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The addresses, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Mailbox> {
        self.0.iter()
    }
}

impl<'a> IntoIterator for &'a Addresses {
    type Item = &'a Mailbox;
    type IntoIter = std::slice::Iter<'a, Mailbox>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'de> Deserialize<'de> for Addresses {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Addresses;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an address or a list of addresses")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Addresses, E> {
                s.parse().map(|m| Addresses(vec![m])).map_err(E::custom)
            }
            fn visit_map<A: de::MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Addresses, A::Error> {
                Mailbox::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|m| Addresses(vec![m]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Addresses, A::Error> {
                let mut all = Vec::new();
                while let Some(m) = seq.next_element::<Mailbox>()? {
                    all.push(m);
                }
                Ok(Addresses(all))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Addresses {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl JsonSchema for Addresses {
    fn schema_name() -> Cow<'static, str> {
        "Addresses".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let one = generator.subschema_for::<Mailbox>();
        json_schema!({
            "description": "One address, or a list of them.",
            "anyOf": [
                one,
                {"type": "array", "items": one}
            ]
        })
    }
}
