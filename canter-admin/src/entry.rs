//! A registered model behind a trait object: the site knows its models by their metadata and
//! reaches each one's typed code (querysets of `M`) through [`Entry`].

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use canter_core::{Request, Response, Result};
use canter_orm::{Model, ModelMeta, OrmError, Value};
use futures_util::future::BoxFuture;

use crate::access::Cx;
use crate::display::{capitalize, model_words, value_text};
use crate::options::ModelAdmin;

/// A model view, with the object's key as the URL gave it.
#[derive(Debug, Clone)]
pub(crate) enum View {
    List,
    Add,
    Change(String),
    Delete(String),
    History(String),
    Password(String),
}

/// Rows of a related model that point at an object: how many, and the first few (name, key).
pub(crate) type RelatedRows = (u64, Vec<(String, String)>);

/// What the site asks of a registered model.
pub(crate) trait Entry: Send + Sync {
    fn meta(&self) -> &'static ModelMeta;
    /// "my model", "my models".
    fn names(&self) -> (String, String);
    /// Runs a view (access already checked).
    fn view(&self, cx: Cx, req: Request, view: View) -> BoxFuture<'static, Result<Response>>;
    /// The names of the rows with these keys (foreign-key cells: one query for a page).
    fn labels(
        &self,
        keys: Vec<String>,
    ) -> BoxFuture<'static, Result<HashMap<String, String>, OrmError>>;
    /// The first `limit` rows as (key, name), in the admin's order (a foreign key's select).
    fn options(&self, limit: u64) -> BoxFuture<'static, Result<Vec<(String, String)>, OrmError>>;
    /// The rows whose field `field` holds `key` (what a delete takes along).
    fn related(
        &self,
        field: usize,
        key: String,
        limit: u64,
    ) -> BoxFuture<'static, Result<RelatedRows, OrmError>>;
}

/// Model `M` with its options.
pub(crate) struct Registered<M> {
    pub options: Arc<ModelAdmin<M>>,
    _model: PhantomData<fn() -> M>,
}

impl<M: Model> Registered<M> {
    pub fn new(options: ModelAdmin<M>) -> Self {
        Registered {
            options: Arc::new(options),
            _model: PhantomData,
        }
    }
}

/// The key of a row as text (its URL part).
pub(crate) fn key_text<M: Model>(row: &M) -> String {
    value_text(&row.pk_value()).unwrap_or_default()
}

/// A row's name: the `display` option's, else Django's `"MyModel object (1)"`.
pub(crate) fn name_of<M: Model>(options: &ModelAdmin<M>, row: &M) -> String {
    match &options.display {
        Some(display) => display(row),
        None => format!("{} object ({})", M::meta().name, key_text(row)),
    }
}

/// The model's singular and plural names.
pub(crate) fn names_of<M: Model>(options: &ModelAdmin<M>) -> (String, String) {
    match &options.verbose_name {
        Some(names) => names.clone(),
        None => {
            let singular = model_words(M::meta().name);
            let plural = format!("{singular}s");
            (singular, plural)
        }
    }
}

/// The rows of `M` with these keys (text), as `field__in` allows: keys holding a comma are
/// looked up one by one.
pub(crate) async fn rows_by_keys<M: Model>(keys: &[String]) -> Result<Vec<M>, OrmError> {
    let pk = M::meta().pk_field().name;
    let (plain, with_comma): (Vec<&String>, Vec<&String>) =
        keys.iter().partition(|k| !k.contains(','));
    let mut rows = Vec::new();
    for chunk in plain.chunks(500) {
        let joined = chunk
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let lookup = format!("{pk}__in");
        match M::objects().filter_params([(lookup.as_str(), joined.as_str())]) {
            Ok(qs) => rows.extend(qs.all().await?),
            // A key that is not of the key's type names no row.
            Err(OrmError::InvalidLookup(_)) => {
                for key in chunk {
                    rows.extend(row_by_key::<M>(key).await?);
                }
            }
            Err(e) => return Err(e),
        }
    }
    for key in with_comma {
        rows.extend(row_by_key::<M>(key).await?);
    }
    Ok(rows)
}

/// The row with this key; `None` when there is none or the text is no key of `M`'s type.
pub(crate) async fn row_by_key<M: Model>(key: &str) -> Result<Option<M>, OrmError> {
    let pk = M::meta().pk_field().name;
    match canter_orm::Q::<M>::parse(pk, key) {
        Ok(q) => M::objects().filter(q).first().await,
        Err(OrmError::InvalidLookup(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

impl<M: Model + Default + Clone> Entry for Registered<M> {
    fn meta(&self) -> &'static ModelMeta {
        M::meta()
    }

    fn names(&self) -> (String, String) {
        names_of(&self.options)
    }

    fn view(&self, cx: Cx, req: Request, view: View) -> BoxFuture<'static, Result<Response>> {
        let options = self.options.clone();
        Box::pin(async move {
            match view {
                View::List => crate::views::list::changelist::<M>(options, cx, req).await,
                View::Add => crate::views::edit::add::<M>(options, cx, req).await,
                View::Change(key) => crate::views::edit::change::<M>(options, cx, req, key).await,
                View::Delete(key) => crate::views::delete::delete::<M>(options, cx, req, key).await,
                View::History(key) => {
                    crate::views::history::history::<M>(options, cx, req, key).await
                }
                View::Password(key) => crate::users::password::<M>(options, cx, req, key).await,
            }
        })
    }

    fn labels(
        &self,
        keys: Vec<String>,
    ) -> BoxFuture<'static, Result<HashMap<String, String>, OrmError>> {
        let options = self.options.clone();
        Box::pin(async move {
            let rows = rows_by_keys::<M>(&keys).await?;
            Ok(rows
                .iter()
                .map(|row| (key_text(row), name_of(&options, row)))
                .collect())
        })
    }

    fn options(&self, limit: u64) -> BoxFuture<'static, Result<Vec<(String, String)>, OrmError>> {
        let options = self.options.clone();
        Box::pin(async move {
            let ordering: Vec<&str> = options.ordering.iter().map(String::as_str).collect();
            let qs = M::objects().order_by_names(&ordering)?.limit(limit);
            let rows = qs.all().await?;
            Ok(rows
                .iter()
                .map(|row| (key_text(row), name_of(&options, row)))
                .collect())
        })
    }

    fn related(
        &self,
        field: usize,
        key: String,
        limit: u64,
    ) -> BoxFuture<'static, Result<RelatedRows, OrmError>> {
        let options = self.options.clone();
        Box::pin(async move {
            let name = M::meta().fields[field].name;
            let qs = match M::objects().filter_params([(name, key.as_str())]) {
                Ok(qs) => qs,
                Err(OrmError::InvalidLookup(_)) => return Ok((0, Vec::new())),
                Err(e) => return Err(e),
            };
            let count = qs.clone().count().await?;
            let rows = qs.limit(limit).all().await?;
            let named = rows
                .iter()
                .map(|row| (capitalize(&name_of(&options, row)), key_text(row)))
                .collect();
            Ok((count, named))
        })
    }
}

/// Text keys of a foreign key's values, for [`Entry::labels`].
pub(crate) fn fk_keys(values: impl Iterator<Item = Value>) -> Vec<String> {
    let mut keys: Vec<String> = values.filter_map(|v| value_text(&v)).collect();
    keys.sort();
    keys.dedup();
    keys
}
