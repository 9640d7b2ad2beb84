//! Reading Kafka's JSON message specs into a typed model.

use serde_json::Value;
use std::collections::BTreeMap;

/// An inclusive version range; `None` in an `Option<Vers>` means "no versions".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Vers {
    pub(crate) min: i16,
    pub(crate) max: i16, // i16::MAX means open-ended
}

impl Vers {
    pub(crate) fn parse(s: &str) -> Result<Option<Vers>, String> {
        let s = s.trim();
        if s == "none" {
            return Ok(None);
        }
        let p = |t: &str| {
            t.trim()
                .parse::<i16>()
                .map_err(|e| format!("bad version '{s}': {e}"))
        };
        if let Some(lo) = s.strip_suffix('+') {
            return Ok(Some(Vers {
                min: p(lo)?,
                max: i16::MAX,
            }));
        }
        if let Some((lo, hi)) = s.split_once('-') {
            return Ok(Some(Vers {
                min: p(lo)?,
                max: p(hi)?,
            }));
        }
        let v = p(s)?;
        Ok(Some(Vers { min: v, max: v }))
    }

    /// Human description used in generated docs.
    pub(crate) fn describe(&self) -> String {
        if self.max == i16::MAX {
            format!("{}+", self.min)
        } else if self.min == self.max {
            format!("{}", self.min)
        } else {
            format!("{}-{}", self.min, self.max)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ty {
    Bool,
    Int8,
    Int16,
    Uint16,
    Int32,
    Int64,
    Float64,
    Str,
    Bytes,
    Records,
    Uuid,
    Struct(String),
    Array(Box<Ty>),
}

impl Ty {
    fn parse(s: &str) -> Ty {
        if let Some(inner) = s.strip_prefix("[]") {
            return Ty::Array(Box::new(Ty::parse(inner)));
        }
        match s {
            "bool" => Ty::Bool,
            "int8" => Ty::Int8,
            "int16" => Ty::Int16,
            "uint16" => Ty::Uint16,
            "int32" => Ty::Int32,
            "int64" => Ty::Int64,
            "float64" => Ty::Float64,
            "string" => Ty::Str,
            "bytes" => Ty::Bytes,
            "records" => Ty::Records,
            "uuid" => Ty::Uuid,
            other => Ty::Struct(other.to_string()),
        }
    }

    pub(crate) fn spec_name(&self) -> String {
        match self {
            Ty::Bool => "bool".into(),
            Ty::Int8 => "int8".into(),
            Ty::Int16 => "int16".into(),
            Ty::Uint16 => "uint16".into(),
            Ty::Int32 => "int32".into(),
            Ty::Int64 => "int64".into(),
            Ty::Float64 => "float64".into(),
            Ty::Str => "string".into(),
            Ty::Bytes => "bytes".into(),
            Ty::Records => "records".into(),
            Ty::Uuid => "uuid".into(),
            Ty::Struct(s) => s.clone(),
            Ty::Array(t) => format!("[]{}", t.spec_name()),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) ty: Ty,
    pub(crate) versions: Option<Vers>,
    pub(crate) nullable: Option<Vers>,
    pub(crate) tag: Option<u32>,
    pub(crate) tagged: Option<Vers>,
    pub(crate) flexible_override: Option<Option<Vers>>,
    pub(crate) default: Option<String>,
    pub(crate) ignorable: bool,
    pub(crate) map_key: bool,
    pub(crate) entity_type: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct StructDef {
    pub(crate) name: String,
    pub(crate) fields: Vec<Field>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Request,
    Response,
    Header,
    Data,
}

#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) api_key: Option<i16>,
    pub(crate) valid: Option<Vers>,
    pub(crate) flexible: Option<Vers>,
    pub(crate) listeners: Vec<String>,
    pub(crate) latest_unstable: bool,
    pub(crate) internal: bool,
    /// The top-level struct (named after the message) followed by every nested struct, in
    /// definition order; common structs included.
    pub(crate) structs: Vec<StructDef>,
}

/// Removes `//` comments outside string literals.
pub(crate) fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut chars = src.chars().peekable();
    let mut in_str = false;
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if c == '/' && chars.peek() == Some(&'/') {
            for n in chars.by_ref() {
                if n == '\n' {
                    out.push('\n');
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn parse_fields(
    arr: &Value,
    structs: &mut Vec<StructDef>,
    ctx: &str,
) -> Result<Vec<Field>, String> {
    let mut out = Vec::new();
    let Some(items) = arr.as_array() else {
        return Ok(out);
    };
    for f in items {
        let name = str_of(f, "name").ok_or_else(|| format!("{ctx}: field without name"))?;
        let ty_s = str_of(f, "type").ok_or_else(|| format!("{ctx}.{name}: no type"))?;
        let ty = Ty::parse(&ty_s);
        // a tagged field may omit "versions": it then exists exactly in its tagged versions
        let versions_s = str_of(f, "versions")
            .or_else(|| str_of(f, "taggedVersions"))
            .ok_or_else(|| format!("{ctx}.{name}: no versions"))?;
        let versions = Vers::parse(&versions_s)?;
        let nullable = match str_of(f, "nullableVersions") {
            Some(s) => Vers::parse(&s)?,
            None => None,
        };
        let tagged = match str_of(f, "taggedVersions") {
            Some(s) => Vers::parse(&s)?,
            None => None,
        };
        let tag = match f.get("tag") {
            Some(Value::Number(n)) => Some(n.as_u64().ok_or("bad tag")? as u32),
            Some(Value::String(s)) => Some(s.parse::<u32>().map_err(|e| e.to_string())?),
            _ => None,
        };
        let flexible_override = match str_of(f, "flexibleVersions") {
            Some(s) => Some(Vers::parse(&s)?),
            None => None,
        };
        if let Some(sub) = f.get("fields") {
            let struct_name = match &ty {
                Ty::Struct(s) => s.clone(),
                Ty::Array(inner) => match inner.as_ref() {
                    Ty::Struct(s) => s.clone(),
                    _ => return Err(format!("{ctx}.{name}: fields on a non-struct type")),
                },
                _ => return Err(format!("{ctx}.{name}: fields on a non-struct type")),
            };
            // reserve the slot so definition order is parent-first
            let idx = structs.len();
            structs.push(StructDef {
                name: struct_name.clone(),
                fields: Vec::new(),
            });
            let fields = parse_fields(sub, structs, &format!("{ctx}.{struct_name}"))?;
            structs[idx].fields = fields;
        }
        out.push(Field {
            name,
            ty,
            versions,
            nullable,
            tag,
            tagged,
            flexible_override,
            default: match f.get("default") {
                Some(Value::Null) => Some("null".into()),
                _ => str_of(f, "default"),
            },
            ignorable: f.get("ignorable").and_then(Value::as_bool).unwrap_or(false),
            map_key: f.get("mapKey").and_then(Value::as_bool).unwrap_or(false),
            entity_type: str_of(f, "entityType"),
        });
    }
    Ok(out)
}

pub(crate) fn parse_spec(text: &str, internal: bool) -> Result<Spec, String> {
    let v: Value = serde_json::from_str(&strip_comments(text)).map_err(|e| e.to_string())?;
    let name = str_of(&v, "name").ok_or("no name")?;
    let kind = match str_of(&v, "type").as_deref() {
        Some("request") => Kind::Request,
        Some("response") => Kind::Response,
        Some("header") => Kind::Header,
        Some("data") => Kind::Data,
        other => return Err(format!("{name}: unknown message type {other:?}")),
    };
    let api_key = str_of(&v, "apiKey")
        .map(|s| s.parse::<i16>())
        .transpose()
        .map_err(|e| e.to_string())?;
    let mut valid = Vers::parse(&str_of(&v, "validVersions").ok_or("no validVersions")?)?;
    // Kafka 4 dropped request header v0 (used only by ControlledShutdown v0), but brokers and
    // tools that read old captures still meet it; its layout is v1 without the client id.
    if name == "RequestHeader"
        && let Some(vv) = valid.as_mut()
    {
        vv.min = 0;
    }
    let flexible = Vers::parse(&str_of(&v, "flexibleVersions").unwrap_or_else(|| "none".into()))?;
    let listeners = v
        .get("listeners")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let latest_unstable = v
        .get("latestVersionUnstable")
        .and_then(Value::as_bool)
        .unwrap_or(false);

    let mut structs = vec![StructDef {
        name: name.clone(),
        fields: Vec::new(),
    }];
    let top = parse_fields(v.get("fields").unwrap_or(&Value::Null), &mut structs, &name)?;
    structs[0].fields = top;
    if let Some(common) = v.get("commonStructs").and_then(Value::as_array) {
        for c in common {
            let cname = str_of(c, "name").ok_or("common struct without name")?;
            let idx = structs.len();
            structs.push(StructDef {
                name: cname.clone(),
                fields: Vec::new(),
            });
            let fields = parse_fields(
                c.get("fields").unwrap_or(&Value::Null),
                &mut structs,
                &cname,
            )?;
            structs[idx].fields = fields;
        }
    }
    // A struct type may be declared with fields more than once (identical shapes); keep the first.
    let mut seen = BTreeMap::new();
    structs.retain(|s| seen.insert(s.name.clone(), ()).is_none());
    Ok(Spec {
        name,
        kind,
        api_key,
        valid,
        flexible,
        listeners,
        latest_unstable,
        internal,
        structs,
    })
}
