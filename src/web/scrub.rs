//! NUL characters (U+0000) are removed from every inbound text before anything is
//! stored. PostgreSQL refuses them in text columns while SQLite keeps them, so left in
//! they would make one database lose a handoff (a 500, retried into another 500) that
//! the other stores; removed at the boundary, both behave alike. A NUL carries no
//! meaning in a chat message, a name or an id.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Removes NUL characters from every string (and object key) in `v`.
pub fn strip_nul(v: &mut Value) {
    match v {
        Value::String(s) if s.contains('\0') => s.retain(|c| c != '\0'),
        Value::Array(items) => items.iter_mut().for_each(strip_nul),
        Value::Object(map) => {
            if map.keys().any(|k| k.contains('\0')) {
                let old = std::mem::take(map);
                for (k, mut v) in old {
                    strip_nul(&mut v);
                    map.insert(k.replace('\0', ""), v);
                }
            } else {
                map.values_mut().for_each(strip_nul);
            }
        }
        _ => {}
    }
}

/// `text` without NUL characters.
pub fn text(text: &str) -> String {
    text.replace('\0', "")
}

/// A value (a platform's event, as its client library read it) with NUL characters
/// removed from every string; unchanged if it cannot be written back.
pub fn scrubbed<T: Serialize + DeserializeOwned>(value: T) -> T {
    let Ok(mut v) = serde_json::to_value(&value) else {
        return value;
    };
    strip_nul(&mut v);
    serde_json::from_value(v).unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_go_everywhere_in_a_document() {
        let mut v = serde_json::json!({"na\u{0}me": "A\u{0}da", "list": ["x\u{0}", 1, {"t": "\u{0}"}]});
        strip_nul(&mut v);
        assert_eq!(v, serde_json::json!({"name": "Ada", "list": ["x", 1, {"t": ""}]}));
        assert_eq!(text("a\u{0}b"), "ab");
    }
}
