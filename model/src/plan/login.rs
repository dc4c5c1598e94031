//! Logins a node takes from the ConnectsTo target it logs in to. A node type names the
//! properties that form its login in the tag `provisio:login` (`ccuUser ccuPassword` on both
//! HomeMaticCCU and HomeMaticPoller): the account lives on the target (the CCU has the user),
//! the client (the poller) uses it. Also the validation of logins that contradict each other.
//!
//! The rule, applied to an operation that declares the `connections` input:
//! - the login properties shared by the node's type and a ConnectsTo *target's* type (both
//!   tags name them) are the only neighbour properties that ever become its inputs; never a
//!   source's, never a host's, never another property of the target;
//! - the node's own login wins as a whole: when it sets any of its login properties, nothing is
//!   taken from a target (no mixing of one template's user with another's password);
//! - otherwise the first ConnectsTo target (document order) that sets any shared login property
//!   gives all of them: secrets (by their own name or their deploy input's) as secret inputs,
//!   which reach the node's `/etc/provisio/secrets.env` only, masked in plans and events.

use super::connections::Ctx;
use super::inputs::{is_secret_name, missing_marker};
use super::{InputSource, MissingInput, ResolvedInput};
use crate::QName;
use crate::diagnostic::Diagnostic;
use crate::library::Library;
use crate::tosca::properties::input_name;
use crate::tosca::{NodeTemplate, ServiceTemplate, TopologyIndex};
use std::path::PathBuf;

/// The tag of a node type naming its login properties (separated by spaces or commas).
pub const LOGIN_TAG: &str = "provisio:login";

/// The login properties of node type `ty`: the nearest type's [`LOGIN_TAG`], in order.
pub fn login_keys(lib: &Library, ty: &QName) -> Vec<String> {
    lib.node_type_chain(ty)
        .into_iter()
        .find_map(|t| {
            t.base
                .tags
                .iter()
                .find(|(k, _)| k == LOGIN_TAG)
                .map(|(_, v)| {
                    v.split(|c: char| c.is_whitespace() || c == ',')
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                })
        })
        .unwrap_or_default()
}

/// A template's value of `key`, else its type's default; `None` when empty.
fn value(lib: &Library, n: &NodeTemplate, key: &str) -> Option<String> {
    let v = match n.property(key).filter(|v| !v.trim().is_empty()) {
        Some(v) => v.to_string(),
        None => lib
            .node_type_chain(&n.type_ref)
            .into_iter()
            .filter_map(|t| t.base.properties_definition.as_ref())
            .find_map(|d| {
                d.keys()
                    .iter()
                    .find(|k| k.key == key)
                    .and_then(|k| k.default.clone())
            })?,
    };
    (!v.trim().is_empty()).then_some(v)
}

/// Where a node's login comes from.
struct Logins<'t> {
    /// The node's login properties.
    keys: Vec<String>,
    /// Those the node sets itself.
    own: Vec<String>,
    /// ConnectsTo targets whose login shares properties with the node's.
    linked: Vec<&'t NodeTemplate>,
    /// Those of them setting a shared login property, with the shared properties.
    targets: Vec<(&'t NodeTemplate, Vec<String>)>,
}

fn logins<'t>(
    lib: &Library,
    index: &TopologyIndex<'t>,
    targets: &[String],
    n: &NodeTemplate,
) -> Option<Logins<'t>> {
    let keys = login_keys(lib, &n.type_ref);
    if keys.is_empty() {
        return None;
    }
    let own = keys
        .iter()
        .filter(|k| value(lib, n, k).is_some())
        .cloned()
        .collect();
    let mut linked = Vec::new();
    let mut with_login = Vec::new();
    for t in targets.iter().filter_map(|t| index.node(t)) {
        let shared: Vec<String> = login_keys(lib, &t.type_ref)
            .into_iter()
            .filter(|k| keys.contains(k))
            .collect();
        if shared.is_empty() {
            continue;
        }
        linked.push(t);
        if shared.iter().any(|k| value(lib, t, k).is_some()) {
            with_login.push((t, shared));
        }
    }
    Some(Logins {
        keys,
        own,
        linked,
        targets: with_login,
    })
}

/// The login node `id` takes from a ConnectsTo target by the rule of this module (nothing when
/// it sets its own): one input per shared login property the target sets, a `get_input:`
/// taken from the deploy inputs or reported in `missing` (for operation `op`).
pub(crate) fn target_login(
    ctx: &Ctx<'_, '_>,
    id: &str,
    op: &str,
    missing: &mut Vec<MissingInput>,
) -> Vec<ResolvedInput> {
    let Some(n) = ctx.index.node(id) else {
        return Vec::new();
    };
    let targets = ctx.edges.targets_of(id);
    let Some(l) = logins(ctx.lib, ctx.index, targets, n) else {
        return Vec::new();
    };
    let Some((t, shared)) = l.targets.first().filter(|_| l.own.is_empty()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for k in shared {
        let Some(v) = value(ctx.lib, t, k) else {
            continue;
        };
        let (value, source, secret) = match input_name(&v) {
            Some(input) => {
                let secret = is_secret_name(k) || is_secret_name(input);
                let source = InputSource::DeployInput(input.to_string());
                match ctx.deploy_inputs.get(input) {
                    Some(given) => (given.clone(), source, secret),
                    None => {
                        missing.push(MissingInput {
                            node: id.to_string(),
                            operation: op.to_string(),
                            input: k.clone(),
                            deploy_input: Some(input.to_string()),
                        });
                        (missing_marker(input), source, secret)
                    }
                }
            }
            None => (v, InputSource::Target(t.id.clone()), is_secret_name(k)),
        };
        out.push(ResolvedInput {
            name: k.clone(),
            value,
            source,
            secret,
        });
    }
    out
}

/// Logins that contradict each other (code `login`): a password without a user (on the node
/// and its targets), a node's own login that would drop the password of its target's, and
/// several targets offering a login.
pub fn check_logins(lib: &Library, st: &ServiceTemplate, file: Option<PathBuf>) -> Vec<Diagnostic> {
    let topo = &st.topology;
    let index = TopologyIndex::new(topo);
    let edges = super::connections::Edges::new(lib, topo, &index);
    let mut out = Vec::new();
    for n in &topo.node_templates {
        let Some(l) = logins(lib, &index, edges.targets_of(&n.id), n) else {
            continue;
        };
        let at = |d: Diagnostic| d.at(file.clone(), n.line);
        let what = format!("{} '{}'", n.type_ref.local, n.id);
        let (secrets, users): (Vec<&String>, Vec<&String>) =
            l.keys.iter().partition(|k| is_secret_name(k));
        let sets = |k: &&String| l.own.contains(k);
        let first = l.targets.first().map(|(t, _)| *t);
        let target = |t: &NodeTemplate| format!("{} '{}'", t.type_ref.local, t.id);
        let own_secret = secrets.iter().copied().find(|k| sets(k));
        let (Some(user), Some(secret)) = (users.first(), own_secret.or(secrets.first().copied()))
        else {
            continue;
        };
        if secrets.iter().any(sets) && !users.iter().any(sets) {
            let d = match first {
                Some(t) => Diagnostic::error(
                    "login",
                    &n.id,
                    format!(
                        "{what} sets {secret} but not {user}: its own login replaces the whole login of {} it ConnectsTo",
                        target(t)
                    ),
                )
                .with_hint(format!(
                    "set {user} on '{}' too, or remove {secret} from it to use the login of '{}'",
                    n.id, t.id
                )),
                None => match l.linked.first() {
                    Some(t) => Diagnostic::error(
                        "login",
                        &n.id,
                        format!(
                            "{what} sets {secret} but no {user} is set, neither on it nor on {} it ConnectsTo",
                            target(t)
                        ),
                    )
                    .with_hint(format!(
                        "set {user} on '{}', or set the whole login on '{}' instead",
                        n.id, t.id
                    )),
                    None => Diagnostic::error(
                        "login",
                        &n.id,
                        format!("{what} sets {secret} but not {user}"),
                    )
                    .with_hint(format!("set {user} on '{}' too", n.id)),
                },
            };
            out.push(at(d));
        } else if let Some(t) = first
            && !l.own.is_empty()
            && !secrets.iter().any(sets)
            && secrets.iter().any(|k| value(lib, t, k).is_some())
        {
            out.push(at(Diagnostic::error(
                "login",
                &n.id,
                format!(
                    "{what} sets {user} but no {secret}: its own login replaces the login of {} it ConnectsTo, whose {secret} would not be used",
                    target(t)
                ),
            )
            .with_hint(format!(
                "set {secret} on '{}' too, or remove {user} from it to use the login of '{}'",
                n.id, t.id
            ))));
        }
        if l.own.is_empty() && l.targets.len() > 1 {
            let names: Vec<&str> = l.targets.iter().map(|(t, _)| t.id.as_str()).collect();
            out.push(at(Diagnostic::warning(
                "login",
                &n.id,
                format!(
                    "{what} ConnectsTo several targets with a login ({}): only the login of '{}' is used",
                    names.join(", "),
                    names[0]
                ),
            )
            .with_hint(format!("set the login on '{}' itself to choose", n.id))));
        }
    }
    out
}
