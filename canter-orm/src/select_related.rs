//! The rows `select_related` JOINs into a query: its relation paths (`author`,
//! `author__country`) as a tree, each node with the column where its model's columns start in
//! the row. The compiler selects the columns in the tree's order (a relation before those
//! reached through it), and decoding walks the same tree: an `Author` is decoded, its own
//! `country` filled from the columns after it, and only then cached on the book's `author`.

use crate::expressions::RelPath;
use crate::model::ModelMeta;

/// One relation of a `select_related` tree.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// The relation field, on the model of the node above (the queryset's model at the top).
    pub field: usize,
    /// Where the related model's columns start in the row.
    pub offset: usize,
    /// The relations followed from the related model.
    pub children: Vec<Joined>,
}

/// Every path of `paths` and the paths leading to it, each once, a path before those that
/// extend it: the order in which the related models' columns are selected.
pub(crate) fn ordered_paths(paths: &[RelPath]) -> Vec<RelPath> {
    let mut all: Vec<RelPath> = paths
        .iter()
        .flat_map(|path| (1..=path.hops().count()).map(move |n| path.prefix(n)))
        .collect();
    all.sort_by_key(|path| path.hops().collect::<Vec<_>>());
    all.dedup();
    all
}

/// The tree of `paths` followed from `meta`'s rows, their columns after `meta`'s own.
pub(crate) fn tree(meta: &'static ModelMeta, paths: &[RelPath]) -> Vec<Joined> {
    let mut offset = meta.fields.len();
    build(meta, &ordered_paths(paths), 0, &mut offset)
}

/// The nodes for `ordered` (paths in `ordered_paths`' order, all longer than `depth` and
/// sharing their first `depth` hops), numbering columns on from `offset`.
fn build(
    meta: &'static ModelMeta,
    ordered: &[RelPath],
    depth: usize,
    offset: &mut usize,
) -> Vec<Joined> {
    let mut nodes = Vec::new();
    let mut i = 0;
    while i < ordered.len() {
        // The order puts each relation right before those reached through it.
        let path = ordered[i];
        let field = path.hops().nth(depth).expect("a path longer than depth");
        let target = (meta.fields[field]
            .related
            .expect("select_related takes relation fields"))();
        let start = *offset;
        *offset += target.fields.len();
        let end = ordered[i + 1..]
            .iter()
            .position(|p| p.prefix(depth + 1) != path)
            .map_or(ordered.len(), |n| i + 1 + n);
        let children = build(target, &ordered[i + 1..end], depth + 1, offset);
        nodes.push(Joined {
            field,
            offset: start,
            children,
        });
        i = end;
    }
    nodes
}
