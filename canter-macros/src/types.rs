//! Types read by name: macros run before names resolve, so `ForeignKey<T>` is any type whose
//! path ends in `ForeignKey` (`canter::orm::ForeignKey<T>` or an imported `ForeignKey<T>`).

use syn::{GenericArgument, PathArguments, PathSegment, Type};

/// The last segment of a path type: `Foo<T>` of `a::b::Foo<T>`.
pub(crate) fn last_segment(ty: &Type) -> Option<&PathSegment> {
    let Type::Path(path) = ty else { return None };
    path.path.segments.last()
}

/// The first type argument of a segment: `T` of `Foo<T, U>`.
pub(crate) fn first_type_argument(segment: &PathSegment) -> Option<&Type> {
    let PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    args.args.iter().find_map(|argument| match argument {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    })
}

/// `path` as written, or `::path` when it has no leading `::`, so that a local module of the
/// same name cannot shadow the crate the generated code refers to.
pub(crate) fn absolute(path: syn::Path) -> syn::Path {
    if path.leading_colon.is_some() {
        path
    } else {
        syn::parse_quote!(::#path)
    }
}
