//! The change list (Django's `changelist_view`): the rows of a page with the chosen columns,
//! sortable, searched and filtered, with counts, pagination and bulk actions.

use std::collections::HashMap;
use std::sync::Arc;

use canter_core::prelude::*;
use canter_orm::{Model, QuerySet};
use canter_pages::minijinja;
use serde::Serialize;

use crate::access::{Cx, Perm};
use crate::changelist::{apply_filters, order_param, ordering, parse_order, search_q, Sorted};
use crate::display::{as_bool, capitalize, cell_text, field_label};
use crate::entry::{fk_keys, key_text, name_of, names_of};
use crate::options::ModelAdmin;
use crate::query::{Params, ALL, ORDER, PAGE, SEARCH};

#[derive(Serialize)]
struct Header {
    label: String,
    sortable: bool,
    /// `asc`, `desc` or empty.
    sorted: &'static str,
    /// 1-based position among the sorted columns (shown when more than one is).
    priority: usize,
    toggle_url: String,
    remove_url: String,
}

#[derive(Serialize)]
struct Cell {
    text: String,
    /// A `list_editable` column's input.
    input: Option<super::editable::Input>,
    /// For booleans: `yes`, `no` or `unknown` (an icon).
    flag: Option<&'static str>,
}

#[derive(Serialize)]
struct ListRow {
    key: String,
    url: String,
    cells: Vec<Cell>,
}

/// `GET /admin/<app>/<model>/` (and its actions, by POST). Long because it is the page's one
/// pass — filters, search, counts, order, page, cells, sidebar, each a call — and splitting it
/// would hand a dozen values between the halves.
pub(crate) async fn changelist<M: Model + Default + Clone>(
    options: Arc<ModelAdmin<M>>,
    cx: Cx,
    mut req: Request,
) -> Result<Response> {
    if req.method() == Method::POST {
        return super::actions::run(options, cx, req).await;
    }
    let params = Params::parse(req.uri().query());
    let meta = M::meta();
    let columns = options.columns();
    let filtered = apply_filters(M::objects(), &options, &params)
        .map_err(|bad| Error::bad_request(format!("invalid filter: {}", bad.0)))?;
    let search = params.get(SEARCH).unwrap_or_default().to_owned();
    let searched = match search_q::<M>(&options.search_fields, &search) {
        Some(q) => filtered.filter(q),
        None => filtered,
    };
    let orm = |e: canter_orm::OrmError| e.into_http();
    let count = searched.clone().count().await.map_err(orm)?;
    let hierarchy = match &options.date_hierarchy {
        Some(field) => Some(
            super::hierarchy::links(field, &params, searched.clone())
                .await
                .map_err(orm)?,
        ),
        None => None,
    };
    let narrowed = !search.is_empty() || params.filters().next().is_some();
    let total = if narrowed {
        M::objects().count().await.map_err(orm)?
    } else {
        count
    };
    let sortable: Vec<bool> = columns.iter().map(|c| meta.field(c).is_some()).collect();
    let sorted = parse_order(params.get(ORDER), &sortable);
    let order = ordering(&options, &columns, &sorted);
    let order: Vec<&str> = order.iter().map(String::as_str).collect();
    let ordered = searched.order_by_names(&order).map_err(orm)?;
    let pages = Pages::of(&options, &params, count)?;
    let rows = pages.slice(ordered).all().await.map_err(orm)?;
    let labels = foreign_labels(&cx, &columns, &rows).await.map_err(orm)?;
    let changelist_url = cx.changelist_url(meta);
    let list_rows: Vec<ListRow> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| list_row(&options, &columns, &labels, row, i, &changelist_url))
        .collect();
    let headers = headers(&columns, &sorted, &params);
    let filters = super::filters::blocks(&cx, &options, &params)
        .await
        .map_err(orm)?;
    let (singular, plural) = names_of(&options);
    let mut actions = Vec::new();
    if cx.can(Perm::Delete, meta) {
        actions.push((
            "delete_selected".to_owned(),
            format!("Delete selected {plural}"),
        ));
    }
    if cx.can(Perm::Change, meta) {
        actions.extend(
            options
                .actions
                .iter()
                .map(|a| (a.name.clone(), a.description.clone())),
        );
    }
    let context = minijinja::context! {
        title => format!("Select {singular} to {}", if cx.can(Perm::Change, meta) { "change" } else { "view" }),
        singular, plural,
        app_label => capitalize(meta.app),
        changelist_url,
        add_url => cx.can(Perm::Add, meta).then(|| format!("{changelist_url}add/")),
        headers, rows => list_rows, hierarchy,
        editable => !options.list_editable.is_empty() && cx.can(Perm::Change, meta), count, total, narrowed, filters, actions,
        search, has_search => !options.search_fields.is_empty(),
        query => params.to_query(),
        search_hidden => params.with(&[], &[SEARCH]).pairs_owned(),
        pagination => pages.links(&params),
        show_all_url => pages.show_all_url(&params),
        clear_url => Params::default().to_query(),
    };
    super::page(
        &mut req,
        &cx.site,
        &cx.root,
        "admin/change_list.html",
        context,
        StatusCode::OK,
    )
    .await
}

/// One row's cells: the row's name (`__str__`), a field's value, a foreign key's row name.
fn list_row<M: Model>(
    options: &ModelAdmin<M>,
    columns: &[String],
    labels: &HashMap<usize, HashMap<String, String>>,
    row: &M,
    index: usize,
    changelist_url: &str,
) -> ListRow {
    let meta = M::meta();
    let values = row.to_values();
    let cells = columns
        .iter()
        .enumerate()
        .map(|(c, column)| match meta.field(column) {
            None => Cell {
                text: name_of(options, row),
                flag: None,
                input: None,
            },
            Some((i, _)) => {
                let value = &values[i];
                let input = super::editable::input_for(options, column, index, &values);
                if input.is_some() {
                    return Cell {
                        text: String::new(),
                        flag: None,
                        input,
                    };
                }
                if let Some(flag) = as_bool(value) {
                    let flag = match flag {
                        Some(true) => "yes",
                        Some(false) => "no",
                        None => "unknown",
                    };
                    return Cell {
                        text: flag.into(),
                        flag: Some(flag),
                        input: None,
                    };
                }
                let text = cell_text(value);
                let text = labels
                    .get(&c)
                    .and_then(|l| l.get(&text))
                    .cloned()
                    .unwrap_or(text);
                Cell {
                    text,
                    flag: None,
                    input: None,
                }
            }
        })
        .collect();
    let key = key_text(row);
    let url = format!(
        "{changelist_url}{}/change/",
        canter_core::routing::percent_encode_path(&key).replace('/', "%2F")
    );
    ListRow { key, url, cells }
}

/// The names of the rows the page's foreign-key columns point at: one query per column
/// (Django's `list_select_related`), never one per row.
async fn foreign_labels<M: Model>(
    cx: &Cx,
    columns: &[String],
    rows: &[M],
) -> Result<HashMap<usize, HashMap<String, String>>, canter_orm::OrmError> {
    let meta = M::meta();
    let mut labels = HashMap::new();
    for (c, column) in columns.iter().enumerate() {
        let Some((i, field)) = meta.field(column) else {
            continue;
        };
        let Some(entry) = field.related.and_then(|t| cx.site.entry_of(t())).cloned() else {
            continue;
        };
        let keys = fk_keys(rows.iter().map(|r| r.to_values().swap_remove(i)));
        if keys.is_empty() {
            continue;
        }
        labels.insert(c, entry.labels(keys).await?);
    }
    Ok(labels)
}

/// The column headers: each sortable one links to itself first (toggled when it already
/// leads), keeping the other sorted columns after it.
fn headers(columns: &[String], sorted: &[Sorted], params: &Params) -> Vec<Header> {
    columns
        .iter()
        .enumerate()
        .map(|(c, column)| {
            let label = if column == "__str__" {
                String::new()
            } else {
                field_label(column)
            };
            let position = sorted.iter().position(|s| s.column == c);
            let others: Vec<Sorted> = sorted.iter().copied().filter(|s| s.column != c).collect();
            let desc = position.is_some_and(|p| p == 0 && !sorted[0].desc);
            let mut toggled = vec![Sorted { column: c, desc }];
            toggled.extend(others.iter().copied());
            Header {
                label,
                sortable: column != "__str__",
                sorted: match position.map(|p| sorted[p].desc) {
                    Some(true) => "desc",
                    Some(false) => "asc",
                    None => "",
                },
                priority: position.map(|p| p + 1).unwrap_or(0),
                toggle_url: params
                    .with(&[(ORDER, order_param(&toggled))], &[])
                    .to_query(),
                remove_url: params
                    .with(&[(ORDER, order_param(&others))], &[])
                    .to_query(),
            }
        })
        .collect()
}

/// The page asked for, out of how many.
struct Pages {
    page: u64,
    pages: u64,
    per_page: u64,
    count: u64,
    show_all: bool,
    can_show_all: bool,
}

impl Pages {
    /// `?p=` (1-based) and `?all=`; a page that does not parse or does not exist is a 404
    /// (Django's paginator's `InvalidPage`).
    fn of<M>(options: &ModelAdmin<M>, params: &Params, count: u64) -> Result<Pages> {
        let per_page = options.list_per_page;
        let pages = count.div_ceil(per_page).max(1);
        let page = match params.get(PAGE) {
            None => 1,
            Some(text) => text
                .parse::<u64>()
                .ok()
                .filter(|p| (1..=pages).contains(p))
                .ok_or_else(|| Error::not_found(format!("no page {text:?}")))?,
        };
        let can_show_all = count <= options.list_max_show_all;
        Ok(Pages {
            page,
            pages,
            per_page,
            count,
            show_all: params.get(ALL).is_some() && can_show_all,
            can_show_all,
        })
    }

    fn slice<M: Model>(&self, qs: QuerySet<M>) -> QuerySet<M> {
        if self.show_all {
            return qs;
        }
        let start = (self.page - 1) * self.per_page;
        qs.slice(start..start + self.per_page)
    }

    /// Django's `pagination` tag: every page near the current one and at both ends, gaps as
    /// `…`.
    fn links(&self, params: &Params) -> Vec<minijinja::Value> {
        if self.pages <= 1 || self.show_all {
            return Vec::new();
        }
        let mut shown: Vec<u64> = (1..=self.pages)
            .filter(|p| *p <= 2 || *p + 2 > self.pages || p.abs_diff(self.page) <= 3)
            .collect();
        shown.dedup();
        let mut links = Vec::new();
        let mut last = 0;
        for p in shown {
            if p > last + 1 {
                links.push(minijinja::context! { gap => true });
            }
            let url = params.with(&[(PAGE, p.to_string())], &[]).to_query();
            links.push(minijinja::context! { number => p, url, current => p == self.page });
            last = p;
        }
        links
    }

    fn show_all_url(&self, params: &Params) -> Option<String> {
        (self.can_show_all && !self.show_all && self.count > self.per_page)
            .then(|| params.with(&[(ALL, String::new())], &[]).to_query())
    }
}
