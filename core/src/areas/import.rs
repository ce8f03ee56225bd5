//! Adding areas from a file someone else may have written: switched off, private network only
//! when the user says so, each with its [`TrustSummary`].
//!
//! Decisions:
//! - An imported area is off unless the user asked to enable it ([`ImportOptions::enable`]); a
//!   file's own `"enabled": false` still wins, but its `"enabled": true` never switches anything
//!   on by itself.
//! - `allow_private_network: true` anywhere in the file (the area's flag or an HTTP step's
//!   parameter) is refused unless [`ImportOptions::allow_private_network`] grants it; the error
//!   names the field and says how to grant it.
//! - A consent (running a program: [`crate::catalog::ParamSpec::consent`]) given in the file is
//!   refused unless [`ImportOptions::allow_programs`] grants it; editing from a file keeps only
//!   the consents the stored area already had for the very same steps.
//! - Areas made in the app's own editor are the user's own and go through [`Areas::add`]
//!   unchanged.
//! - Editing an area from a file ([`Areas::update_from_file`]) follows the same private-network
//!   rule, for access the stored area did not already have.

use serde::{Deserialize, Serialize};

use super::spec::AreaSpec;
use super::store::{AreaSummary, Areas};
use super::summary::{consent_fields, private_network_fields, summarize, TrustSummary};
use super::validate::validate;
use super::AreaError;

/// What the user decided for an import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Switch the areas on at once (`--enable`); otherwise they are created off.
    pub enable: bool,
    /// The user grants the private-network access the file asks for (`--allow-private-network`,
    /// the app's checkbox).
    pub allow_private_network: bool,
    /// The user grants the consents the file gives (running a program on this computer:
    /// `--allow-programs`); otherwise a file that gives one is refused.
    pub allow_programs: bool,
}

/// One imported area: what was stored, and what it will do in plain words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type, schemars::JsonSchema)]
pub struct ImportedArea {
    /// The stored area (flattened into the same JSON object).
    #[serde(flatten)]
    pub area: AreaSummary,
    /// Where it reads from, where it sends to, which connections it uses.
    pub review: TrustSummary,
}

/// Refuses private-network access the user did not grant. `indexed` prefixes fields with the
/// area's index (`[1].allow_private_network`), as errors in a list file are.
pub fn check_private_network(specs: &[AreaSpec], granted: bool, indexed: bool) -> Result<(), AreaError> {
    if granted {
        return Ok(());
    }
    for (i, spec) in specs.iter().enumerate() {
        if let Some(field) = private_network_fields(spec).into_iter().next() {
            let error = AreaError::invalid(
                field,
                "this file asks to reach your own machine and local network (allow_private_network): \
                 refused unless you grant it, with `--allow-private-network` on the command line or the \
                 \"private network\" checkbox in the app",
            );
            return Err(if indexed { error.within(&format!("[{i}]")) } else { error });
        }
    }
    Ok(())
}

/// The error for a consent a file gives on the user's behalf.
fn refused_consent(field: String) -> AreaError {
    AreaError::invalid(
        field,
        "this file allows itself to run a program on your computer: refused unless you grant it, with \
         `--allow-programs` on the command line after reading what it runs, or build the area in the app",
    )
}

impl Areas {
    /// Adds the areas of an untrusted file for `user_id`, all or nothing; see the module doc.
    /// `indexed` says the file held a list, so errors name the area by its index.
    pub async fn import(
        &self,
        user_id: i64,
        mut specs: Vec<AreaSpec>,
        indexed: bool,
        options: ImportOptions,
    ) -> Result<Vec<ImportedArea>, AreaError> {
        // Secret placeholders (an exported file) are asked for first, named `[i].…` as
        // `secrets::fill_list` keys them; then a broken file says so; then whether its reach
        // was granted; then it is stored.
        for (i, spec) in specs.iter().enumerate() {
            self.require_secrets(spec).map_err(|e| e.within(&format!("[{i}]")))?;
        }
        for (i, spec) in specs.iter().enumerate() {
            validate(self.catalog(), spec).map_err(|e| if indexed { e.within(&format!("[{i}]")) } else { e })?;
        }
        check_private_network(&specs, options.allow_private_network, indexed)?;
        if !options.allow_programs {
            for (i, spec) in specs.iter().enumerate() {
                if let Some(field) = consent_fields(self.catalog(), spec).into_iter().next() {
                    let error = refused_consent(field);
                    return Err(if indexed { error.within(&format!("[{i}]")) } else { error });
                }
            }
        }
        for spec in &mut specs {
            spec.enabled = spec.enabled && options.enable;
        }
        let reviews: Vec<TrustSummary> = specs.iter().map(|spec| summarize(self.catalog(), spec)).collect();
        let added = match specs.pop() {
            Some(spec) if !indexed && specs.is_empty() => vec![self.add(user_id, spec).await?],
            Some(last) => {
                specs.push(last);
                self.add_many(user_id, specs).await?
            }
            None => Vec::new(),
        };
        tracing::info!(user_id, areas = added.len(), enabled = options.enable, "areas imported");
        Ok(added.into_iter().zip(reviews).map(|(area, review)| ImportedArea { area, review }).collect())
    }

    /// Replaces an area's definition from a file, which is as untrusted as an import: private
    /// network access that the stored area did not already have is refused unless
    /// `allow_private_network` says the user granted it.
    pub async fn update_from_file(
        &self,
        user_id: i64,
        id: i64,
        spec: AreaSpec,
        allow_private_network: bool,
    ) -> Result<AreaSummary, AreaError> {
        // A file cannot give a consent the stored area did not have for the same step.
        let consents = consent_fields(self.catalog(), &spec);
        if !consents.is_empty() {
            let stored = self.unsealed(user_id, id).await?;
            let same_steps = stored.action == spec.action && stored.reactions == spec.reactions;
            if !same_steps || consent_fields(self.catalog(), &stored) != consents {
                return Err(refused_consent(consents[0].clone()));
            }
        }
        if !allow_private_network && !private_network_fields(&spec).is_empty() {
            let stored = self.unsealed(user_id, id).await?;
            if private_network_fields(&stored).is_empty() {
                check_private_network(std::slice::from_ref(&spec), false, false)?;
            }
        }
        self.update(user_id, id, spec).await
    }
}
