//! `ModelAdmin`: how one model shows in the admin (Django's `ModelAdmin` options).

use std::sync::Arc;

use canter_orm::{ManyToMany, Model, ModelMeta, OrmError};
use futures_util::future::BoxFuture;

/// The function that names a row (Django's `__str__`).
pub(crate) type DisplayFn<M> = Arc<dyn Fn(&M) -> String + Send + Sync>;
/// An action's body: the selected rows in, a message out.
pub(crate) type ActionFn<M> =
    Arc<dyn Fn(Vec<M>) -> BoxFuture<'static, Result<String, OrmError>> + Send + Sync>;

/// The keys of the rows a many-to-many field of a row links to.
pub(crate) type ManyKeys<M> =
    Arc<dyn Fn(&M) -> BoxFuture<'static, Result<Vec<String>, OrmError>> + Send + Sync>;
/// Links a (saved) row to exactly the rows with these keys.
pub(crate) type ManySet<M> =
    Arc<dyn Fn(&M, Vec<String>) -> BoxFuture<'static, Result<(), OrmError>> + Send + Sync>;

/// A many-to-many field in the forms (a multiple select of the target's rows).
pub(crate) struct ManyField<M> {
    pub name: String,
    pub target: fn() -> &'static ModelMeta,
    pub current: ManyKeys<M>,
    pub set: ManySet<M>,
}

impl<M> Clone for ManyField<M> {
    fn clone(&self) -> Self {
        ManyField {
            name: self.name.clone(),
            target: self.target,
            current: self.current.clone(),
            set: self.set.clone(),
        }
    }
}

/// A bulk action of the change list (Django's admin actions): run on the selected rows by
/// users with the model's change permission; its message is shown after.
pub struct Action<M> {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) run: ActionFn<M>,
}

impl<M> Clone for Action<M> {
    fn clone(&self) -> Self {
        Action {
            name: self.name.clone(),
            description: self.description.clone(),
            run: self.run.clone(),
        }
    }
}

/// The options of one registered model, as Django's `ModelAdmin`. Field names are checked
/// when the model is registered ([`crate::Admin::register`] panics naming an unknown one,
/// as Django's system checks refuse to start).
pub struct ModelAdmin<M> {
    pub(crate) list_display: Vec<String>,
    pub(crate) search_fields: Vec<String>,
    pub(crate) list_filter: Vec<String>,
    pub(crate) ordering: Vec<String>,
    pub(crate) list_per_page: u64,
    pub(crate) list_max_show_all: u64,
    pub(crate) readonly_fields: Vec<String>,
    pub(crate) fields: Option<Vec<String>>,
    pub(crate) fieldsets: Vec<(Option<String>, Vec<String>)>,
    pub(crate) exclude: Vec<String>,
    pub(crate) raw_id_fields: Vec<String>,
    pub(crate) password_field: Option<String>,
    pub(crate) display: Option<DisplayFn<M>>,
    pub(crate) actions: Vec<Action<M>>,
    pub(crate) verbose_name: Option<(String, String)>,
    pub(crate) date_hierarchy: Option<String>,
    pub(crate) many: Vec<ManyField<M>>,
    pub(crate) list_editable: Vec<String>,
}

impl<M> Clone for ModelAdmin<M> {
    fn clone(&self) -> Self {
        ModelAdmin {
            list_display: self.list_display.clone(),
            search_fields: self.search_fields.clone(),
            list_filter: self.list_filter.clone(),
            ordering: self.ordering.clone(),
            list_per_page: self.list_per_page,
            list_max_show_all: self.list_max_show_all,
            readonly_fields: self.readonly_fields.clone(),
            fields: self.fields.clone(),
            fieldsets: self.fieldsets.clone(),
            exclude: self.exclude.clone(),
            raw_id_fields: self.raw_id_fields.clone(),
            password_field: self.password_field.clone(),
            display: self.display.clone(),
            actions: self.actions.clone(),
            verbose_name: self.verbose_name.clone(),
            date_hierarchy: self.date_hierarchy.clone(),
            many: self.many.clone(),
            list_editable: self.list_editable.clone(),
        }
    }
}

impl<M> Default for ModelAdmin<M> {
    fn default() -> Self {
        ModelAdmin {
            list_display: Vec::new(),
            search_fields: Vec::new(),
            list_filter: Vec::new(),
            ordering: Vec::new(),
            list_per_page: 100,
            list_max_show_all: 200,
            readonly_fields: Vec::new(),
            fields: None,
            fieldsets: Vec::new(),
            exclude: Vec::new(),
            raw_id_fields: Vec::new(),
            password_field: None,
            display: None,
            actions: Vec::new(),
            verbose_name: None,
            date_hierarchy: None,
            many: Vec::new(),
            list_editable: Vec::new(),
        }
    }
}

fn names<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Vec<String> {
    items.into_iter().map(Into::into).collect()
}

impl<M: Model> ModelAdmin<M> {
    /// Django's defaults: the row's name as the only column, 100 rows a page, every field in
    /// the form.
    pub fn new() -> Self {
        Self::default()
    }

    /// The change list's columns: field names (a foreign key shows its row's name, loaded for
    /// the whole page in one query), or `"__str__"` for the row's name. Sortable by clicking.
    pub fn list_display<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.list_display = names(fields);
        self
    }

    /// The fields `?q=` searches (case-insensitive "contains"; each word must match one of
    /// them). Prefixes as Django's: `^name` starts with, `=name` equals (case-insensitive),
    /// `@name` full-text — here a "contains" on every database (the ORM has no full-text
    /// lookup). Paths across foreign keys (`author__name`) work.
    pub fn search_fields<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.search_fields = names(fields);
        self
    }

    /// The sidebar's filters: booleans (Yes / No), fields with choices, dates (today, past 7
    /// days, this month, this year) and foreign keys (their rows).
    pub fn list_filter<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.list_filter = names(fields);
        self
    }

    /// The change list's order (`"-created"`, `"name"`); the primary key breaks ties. Without
    /// it, newest (highest key) first.
    pub fn ordering<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.ordering = names(fields);
        self
    }

    /// Rows per page (Django's `list_per_page`, 100); at most 10,000.
    pub fn list_per_page(mut self, rows: u64) -> Self {
        self.list_per_page = rows.clamp(1, 10_000);
        self
    }

    /// Up to how many rows "Show all" shows (Django's `list_max_show_all`, 200).
    pub fn list_max_show_all(mut self, rows: u64) -> Self {
        self.list_max_show_all = rows.min(10_000);
        self
    }

    /// Columns edited in place on the change list and saved together with its "Save" button
    /// (Django's `list_editable`): fields of `list_display`, not its first column.
    pub fn list_editable<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.list_editable = names(fields);
        self
    }

    /// A date or date-time field to drill into above the change list (Django's
    /// `date_hierarchy`): its years, then a year's months, then a month's days
    /// (`?added__year=2026&added__month=12`).
    pub fn date_hierarchy(mut self, field: &str) -> Self {
        self.date_hierarchy = Some(field.to_owned());
        self
    }

    /// A many-to-many field in the add and change forms, as a multiple select of the target's
    /// rows (the target must be registered too): `.many_to_many("groups", |u: &User| &u.groups)`.
    pub fn many_to_many<T: Model + Clone>(
        mut self,
        name: &str,
        field: fn(&M) -> &ManyToMany<T>,
    ) -> Self {
        let current: ManyKeys<M> = Arc::new(move |row: &M| {
            let manager = field(row).clone();
            Box::pin(async move {
                let rows = manager.all().all().await?;
                Ok(rows.iter().map(crate::entry::key_text).collect())
            })
        });
        let set: ManySet<M> = Arc::new(move |row: &M, keys: Vec<String>| {
            let manager = field(row).clone();
            Box::pin(async move {
                let rows = crate::entry::rows_by_keys::<T>(&keys).await?;
                let refs: Vec<&T> = rows.iter().collect();
                manager.set(&refs).await
            })
        });
        self.many.push(ManyField {
            name: name.to_owned(),
            target: T::meta,
            current,
            set,
        });
        self
    }

    /// Fields shown on the change form but never written from it.
    pub fn readonly_fields<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.readonly_fields = names(fields);
        self
    }

    /// The form's fields, in order (Django's `fields`); the others keep their values (or, on
    /// an add, their defaults).
    pub fn fields<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.fields = Some(names(fields));
        self
    }

    /// Adds a fieldset: a titled (or untitled) group of the form's fields (Django's
    /// `fieldsets`). With fieldsets, the form shows just their fields.
    pub fn fieldset<S: Into<String>>(
        mut self,
        title: Option<&str>,
        fields: impl IntoIterator<Item = S>,
    ) -> Self {
        self.fieldsets
            .push((title.map(str::to_owned), names(fields)));
        self
    }

    /// Fields left out of the form (Django's `exclude`).
    pub fn exclude<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.exclude = names(fields);
        self
    }

    /// Foreign keys entered as the related row's key in a text box (with the row's name shown
    /// beside it) instead of a select of every row: for large related tables.
    pub fn raw_id_fields<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.raw_id_fields = names(fields);
        self
    }

    /// The field holding a password hash (`"password"` for users): left out of the change
    /// form, which links to a password form instead; the add form asks for the password twice
    /// and stores its hash (Django's `UserAdmin`).
    pub fn password_field(mut self, field: &str) -> Self {
        self.password_field = Some(field.to_owned());
        self
    }

    /// How a row is named in lists, titles, the history and messages (Django's `__str__`);
    /// without it, `"MyModel object (1)"`.
    pub fn display(mut self, name: impl Fn(&M) -> String + Send + Sync + 'static) -> Self {
        self.display = Some(Arc::new(name));
        self
    }

    /// The model's names in the admin (Django's `verbose_name` and `verbose_name_plural`);
    /// without it, the model's name split into words (`MyModel` → "my model", "my models").
    pub fn verbose_name(mut self, singular: &str, plural: &str) -> Self {
        self.verbose_name = Some((singular.to_owned(), plural.to_owned()));
        self
    }

    /// Adds a bulk action (`name` is its form value, `description` its label): it receives the
    /// selected rows and returns the message to show.
    ///
    /// ```no_run
    /// # #[derive(canter_orm::Model, Clone, Default)]
    /// # #[model(crate = canter_orm, app = "shop")]
    /// # struct Product { id: i64, active: bool }
    /// use canter_orm::ModelExt;
    /// let admin = canter_admin::ModelAdmin::<Product>::new().action(
    ///     "make_active",
    ///     "Mark selected products active",
    ///     |rows| Box::pin(async move {
    ///         for mut row in rows.clone() {
    ///             row.active = true;
    ///             row.save().await?;
    ///         }
    ///         Ok(format!("{} products marked active.", rows.len()))
    ///     }),
    /// );
    /// ```
    pub fn action(
        mut self,
        name: &str,
        description: &str,
        run: impl Fn(Vec<M>) -> BoxFuture<'static, Result<String, OrmError>> + Send + Sync + 'static,
    ) -> Self {
        self.actions.push(Action {
            name: name.to_owned(),
            description: description.to_owned(),
            run: Arc::new(run),
        });
        self
    }

    /// Every field name the options mention, with the option's name, for [`Self::check`].
    fn mentioned(&self) -> Vec<(&'static str, &str)> {
        let mut lists: Vec<(&'static str, &[String])> = vec![
            ("list_display", &self.list_display),
            ("list_filter", &self.list_filter),
            ("readonly_fields", &self.readonly_fields),
            ("exclude", &self.exclude),
            ("raw_id_fields", &self.raw_id_fields),
        ];
        let hierarchy = self.date_hierarchy.as_slice();
        lists.push(("date_hierarchy", hierarchy));
        if let Some(fields) = &self.fields {
            lists.push(("fields", fields));
        }
        for (_, fields) in &self.fieldsets {
            lists.push(("fieldsets", fields));
        }
        lists
            .into_iter()
            .flat_map(|(option, list)| list.iter().map(move |name| (option, name.as_str())))
            .collect()
    }

    /// Refuses options naming fields the model does not have (Django's admin checks).
    pub(crate) fn check(&self, meta: &'static ModelMeta) -> Result<(), String> {
        for (option, name) in self.mentioned() {
            if name == "__str__" && option == "list_display" {
                continue;
            }
            if meta.field(name).is_none() {
                return Err(format!(
                    "ModelAdmin for {}: {option} names {name:?}, which is not a field of the model",
                    meta.name
                ));
            }
        }
        for name in &self.list_editable {
            let position = self.list_display.iter().position(|c| c == name);
            if !matches!(position, Some(p) if p > 0) || meta.field(name).is_none() {
                return Err(format!(
                    "ModelAdmin for {}: list_editable names {name:?}, which must be a field of list_display other than its first",
                    meta.name
                ));
            }
        }
        for many in &self.many {
            if !meta.many_to_many.iter().any(|m| m.name == many.name) {
                return Err(format!(
                    "ModelAdmin for {}: many_to_many names {:?}, which is not a many-to-many field of the model",
                    meta.name, many.name
                ));
            }
        }
        if let Some(name) = &self.date_hierarchy {
            let is_date = meta.field(name).is_some_and(|(_, f)| {
                matches!(
                    f.sql_type,
                    canter_orm::SqlType::Date | canter_orm::SqlType::DateTime
                )
            });
            if !is_date {
                return Err(format!(
                    "ModelAdmin for {}: date_hierarchy names {name:?}, which is not a date field",
                    meta.name
                ));
            }
        }
        for name in &self.search_fields {
            let plain = name.trim_start_matches(['^', '=', '@']);
            let first = plain.split("__").next().unwrap_or_default();
            if meta.field(first).is_none() {
                return Err(format!(
                    "ModelAdmin for {}: search_fields names {name:?}, which is not a field of the model",
                    meta.name
                ));
            }
        }
        for name in &self.ordering {
            let plain = name.trim_start_matches('-');
            if meta.field(plain).is_none() {
                return Err(format!(
                    "ModelAdmin for {}: ordering names {name:?}, which is not a field of the model",
                    meta.name
                ));
            }
        }
        Ok(())
    }

    /// The change list's columns (`__str__` alone when none were given).
    pub(crate) fn columns(&self) -> Vec<String> {
        if self.list_display.is_empty() {
            vec!["__str__".to_owned()]
        } else {
            self.list_display.clone()
        }
    }
}
