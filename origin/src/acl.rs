//! Access control lists: S3's grants (a grantee and a permission), the
//! canned ACLs as grant lists, `x-amz-grant-*` headers and
//! `AccessControlPolicy` documents, and what a list grants a caller.
//!
//! Rows keep a canned ACL by its name (`public-read`, and `None` for
//! `private`) and any other list as JSON; both read back as grants here,
//! for a resource's owner and its bucket's owner (`bucket-owner-read`
//! and `bucket-owner-full-control` grant the latter; an object written
//! by its bucket's owner is private under either).

use serde::{Deserialize, Serialize};

use crate::error::{Code, S3Error, S3Result};

pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
pub const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grantee {
    /// A key, by canonical id.
    User(String),
    /// A group, by URI.
    Group(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Permission {
    Read,
    Write,
    ReadAcp,
    WriteAcp,
    FullControl,
}

impl Permission {
    pub fn name(self) -> &'static str {
        match self {
            Permission::Read => "READ",
            Permission::Write => "WRITE",
            Permission::ReadAcp => "READ_ACP",
            Permission::WriteAcp => "WRITE_ACP",
            Permission::FullControl => "FULL_CONTROL",
        }
    }

    fn parse(s: &str) -> S3Result<Self> {
        Ok(match s.trim() {
            "READ" => Permission::Read,
            "WRITE" => Permission::Write,
            "READ_ACP" => Permission::ReadAcp,
            "WRITE_ACP" => Permission::WriteAcp,
            "FULL_CONTROL" => Permission::FullControl,
            _ => return Err(S3Error::new(Code::MalformedACLError)),
        })
    }

    /// Whether holding `self` gives `want`.
    fn covers(self, want: Permission) -> bool {
        self == want || self == Permission::FullControl
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub grantee: Grantee,
    pub permission: Permission,
}

/// Who asks: anonymous, or a key by canonical id.
#[derive(Debug, Clone, Copy)]
pub enum Who<'a> {
    Anonymous,
    Key(&'a str),
}

/// A grant list, in the order GetAcl prints it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Acl(pub Vec<Grant>);

const CANNED: &[&str] = &[
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
];

/// A valid canned ACL name (`InvalidArgument` otherwise).
pub fn canned_name(value: &str) -> S3Result<&'static str> {
    let v = value.trim();
    CANNED.iter().find(|c| **c == v).copied().ok_or_else(|| {
        S3Error::msg(Code::InvalidArgument, format!("Invalid canned ACL '{v}'"))
            .with("ArgumentName", "x-amz-acl")
    })
}

impl Acl {
    /// The grants of a canned ACL for a resource owned by `owner` in a
    /// bucket owned by `bucket_owner`.
    pub fn canned(name: &str, owner: &str, bucket_owner: &str) -> Acl {
        let user = |p| Grant {
            grantee: Grantee::User(owner.to_owned()),
            permission: p,
        };
        let bucket_user = |p| Grant {
            grantee: Grantee::User(bucket_owner.to_owned()),
            permission: p,
        };
        let group = |uri: &str, p| Grant {
            grantee: Grantee::Group(uri.to_owned()),
            permission: p,
        };
        let mut grants = vec![user(Permission::FullControl)];
        match name {
            "public-read" => grants.push(group(ALL_USERS, Permission::Read)),
            "public-read-write" => {
                grants.push(group(ALL_USERS, Permission::Read));
                grants.push(group(ALL_USERS, Permission::Write));
            }
            "authenticated-read" => grants.push(group(AUTHENTICATED_USERS, Permission::Read)),
            "bucket-owner-read" if bucket_owner != owner => {
                grants.push(bucket_user(Permission::Read))
            }
            "bucket-owner-full-control" if bucket_owner != owner => {
                grants.push(bucket_user(Permission::FullControl))
            }
            "log-delivery-write" => {
                grants.push(group(LOG_DELIVERY, Permission::Write));
                grants.push(group(LOG_DELIVERY, Permission::ReadAcp));
            }
            _ => {}
        }
        Acl(grants)
    }

    /// A stored ACL column: a canned name, JSON grants, or `None`
    /// (private).
    pub fn stored(column: Option<&str>, owner: &str, bucket_owner: &str) -> Acl {
        match column {
            Some(s) if s.starts_with('[') => serde_json::from_str(s).map(Acl).unwrap_or_default(),
            Some(name) => Acl::canned(name, owner, bucket_owner),
            None => Acl::canned("private", owner, bucket_owner),
        }
    }

    /// How a row keeps this list: `None` for exactly `private`, a canned
    /// name when it is one, JSON otherwise.
    pub fn column(&self, owner: &str, bucket_owner: &str) -> Option<String> {
        if *self == Acl::canned("private", owner, bucket_owner) {
            return None;
        }
        if let Some(name) = CANNED
            .iter()
            .find(|c| Acl::canned(c, owner, bucket_owner) == *self)
        {
            return Some((*name).to_owned());
        }
        Some(serde_json::to_string(&self.0).expect("serializable"))
    }

    /// Whether the list gives `who` the permission `want`. Anonymous
    /// callers are given only reads: every write needs a signature.
    pub fn allows(&self, who: Who<'_>, want: Permission) -> bool {
        if matches!(who, Who::Anonymous) && matches!(want, Permission::Write | Permission::WriteAcp)
        {
            return false;
        }
        self.0.iter().any(|g| {
            g.permission.covers(want)
                && match (&g.grantee, who) {
                    (Grantee::Group(u), _) if u == ALL_USERS => true,
                    (Grantee::Group(u), Who::Key(_)) if u == AUTHENTICATED_USERS => true,
                    (Grantee::User(id), Who::Key(me)) => id == me,
                    _ => false,
                }
        })
    }

    /// Whether the list grants anything to everyone or every key (what
    /// BlockPublicAcls refuses and PolicyStatus counts).
    pub fn is_public(&self) -> bool {
        self.0.iter().any(|g| {
            matches!(&g.grantee, Grantee::Group(u) if u == ALL_USERS || u == AUTHENTICATED_USERS)
        })
    }

    /// Grants from `x-amz-grant-*` headers (`id="…"`, `uri="…"`,
    /// `emailAddress="…"`, comma-separated); `None` without any. `known`
    /// says whether a canonical id names a key.
    pub fn from_headers(
        headers: &http::HeaderMap,
        known: &dyn Fn(&str) -> bool,
    ) -> S3Result<Option<Acl>> {
        let mut grants = Vec::new();
        let mut any = false;
        for (header, permission) in [
            ("x-amz-grant-read", Permission::Read),
            ("x-amz-grant-write", Permission::Write),
            ("x-amz-grant-read-acp", Permission::ReadAcp),
            ("x-amz-grant-write-acp", Permission::WriteAcp),
            ("x-amz-grant-full-control", Permission::FullControl),
        ] {
            let Some(value) = headers.get(header) else {
                continue;
            };
            any = true;
            let value = value
                .to_str()
                .map_err(|_| S3Error::new(Code::InvalidArgument))?;
            for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                let (kind, v) = item.split_once('=').ok_or_else(|| {
                    S3Error::new(Code::InvalidArgument).with("ArgumentName", header)
                })?;
                let v = v.trim().trim_matches('"');
                let grantee = match kind.trim().to_ascii_lowercase().as_str() {
                    "id" => user(v, known)?,
                    "uri" => group(v)?,
                    "emailaddress" => return Err(unresolvable()),
                    _ => {
                        return Err(S3Error::new(Code::InvalidArgument).with("ArgumentName", header))
                    }
                };
                grants.push(Grant {
                    grantee,
                    permission,
                });
            }
        }
        Ok(any.then_some(Acl(grants)))
    }

    /// Grants from an `AccessControlPolicy` document.
    pub fn from_xml(body: &[u8], known: &dyn Fn(&str) -> bool) -> S3Result<Acl> {
        let doc: AccessControlPolicy = crate::xml::parse(body)?;
        let mut grants = Vec::new();
        for g in doc.list.map(|l| l.grants).unwrap_or_default() {
            let grantee = match (g.grantee.id, g.grantee.uri, g.grantee.email) {
                (Some(id), None, None) => user(id.trim(), known)?,
                (None, Some(uri), None) => group(uri.trim())?,
                (None, None, Some(_)) => return Err(unresolvable()),
                _ => return Err(S3Error::new(Code::MalformedACLError)),
            };
            grants.push(Grant {
                grantee,
                permission: Permission::parse(&g.permission)?,
            });
        }
        Ok(Acl(grants))
    }
}

fn unresolvable() -> S3Error {
    S3Error::msg(
        Code::UnresolvableGrantByEmailAddress,
        "Cairn has no e-mail addresses; grant to a canonical id.",
    )
}

fn user(id: &str, known: &dyn Fn(&str) -> bool) -> S3Result<Grantee> {
    if known(id) {
        Ok(Grantee::User(id.to_owned()))
    } else {
        Err(S3Error::msg(Code::InvalidArgument, "Invalid id")
            .with("ArgumentName", "CanonicalUser/ID"))
    }
}

fn group(uri: &str) -> S3Result<Grantee> {
    if [ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY].contains(&uri) {
        Ok(Grantee::Group(uri.to_owned()))
    } else {
        Err(S3Error::msg(Code::InvalidArgument, "Invalid group uri")
            .with("ArgumentName", "Group/URI"))
    }
}

#[derive(Deserialize)]
struct AccessControlPolicy {
    #[serde(rename = "AccessControlList")]
    list: Option<GrantList>,
}

#[derive(Deserialize)]
struct GrantList {
    #[serde(rename = "Grant", default)]
    grants: Vec<XmlGrant>,
}

#[derive(Deserialize)]
struct XmlGrant {
    #[serde(rename = "Grantee")]
    grantee: XmlGrantee,
    #[serde(rename = "Permission")]
    permission: String,
}

#[derive(Deserialize)]
struct XmlGrantee {
    #[serde(rename = "URI")]
    uri: Option<String>,
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "EmailAddress")]
    email: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_lists_round_trip_through_their_column() {
        for name in CANNED {
            let acl = Acl::canned(name, "writer", "owner");
            let col = acl.column("writer", "owner");
            assert_eq!(
                Acl::stored(col.as_deref(), "writer", "owner"),
                acl,
                "{name}"
            );
        }
        assert_eq!(Acl::canned("private", "o", "o").column("o", "o"), None);
        let read = Acl::canned("bucket-owner-read", "writer", "owner");
        assert!(read.allows(Who::Key("owner"), Permission::Read));
        assert!(!read.allows(Who::Key("owner"), Permission::ReadAcp));
        let custom = Acl(vec![Grant {
            grantee: Grantee::User("alt".into()),
            permission: Permission::Read,
        }]);
        let col = custom.column("o", "o").unwrap();
        assert!(col.starts_with('['));
        assert_eq!(Acl::stored(Some(&col), "o", "o"), custom);
    }

    #[test]
    fn what_a_list_grants_whom() {
        let rw = Acl::canned("public-read-write", "o", "o");
        assert!(rw.allows(Who::Anonymous, Permission::Read));
        assert!(
            !rw.allows(Who::Anonymous, Permission::Write),
            "no unsigned writes"
        );
        assert!(rw.allows(Who::Key("alt"), Permission::Write));
        let auth = Acl::canned("authenticated-read", "o", "o");
        assert!(!auth.allows(Who::Anonymous, Permission::Read));
        assert!(auth.allows(Who::Key("alt"), Permission::Read));
        assert!(!auth.allows(Who::Key("alt"), Permission::ReadAcp));
        assert!(
            auth.allows(Who::Key("o"), Permission::WriteAcp),
            "the owner's FULL_CONTROL"
        );
    }

    #[test]
    fn grant_headers_name_ids_and_groups() {
        let mut h = http::HeaderMap::new();
        h.insert(
            "x-amz-grant-read",
            format!("uri=\"{ALL_USERS}\", id=\"alt\"").parse().unwrap(),
        );
        h.insert("x-amz-grant-write-acp", "id=alt".parse().unwrap());
        let known = |id: &str| id == "alt";
        let acl = Acl::from_headers(&h, &known).unwrap().unwrap();
        assert_eq!(acl.0.len(), 3);
        assert!(acl.allows(Who::Key("alt"), Permission::WriteAcp));
        h.insert("x-amz-grant-read", "id=stranger".parse().unwrap());
        assert!(Acl::from_headers(&h, &known).is_err());
        h.insert(
            "x-amz-grant-read",
            "emailAddress=\"a@b.c\"".parse().unwrap(),
        );
        let err = Acl::from_headers(&h, &known).unwrap_err();
        assert_eq!(err.code, Code::UnresolvableGrantByEmailAddress);
        assert!(Acl::from_headers(&http::HeaderMap::new(), &known)
            .unwrap()
            .is_none());
    }
}
