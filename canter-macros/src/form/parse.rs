//! `#[derive(Form)]` read into a [`FormDesc`]; every error is found here.

use proc_macro2::TokenStream;
use quote::quote;
use syn::meta::ParseNestedMeta;
use syn::{Ident, LitStr, Path, Type};

use crate::errors::Message;
use crate::types::absolute;

pub(crate) struct FormDesc {
    pub ident: Ident,
    /// The pages crate the generated code names: `crate = path`, else `::canter::pages`.
    pub krate: Path,
    /// `validate = path`: `fn(&Self) -> Result<(), FormErrors>`, run once the fields are valid.
    pub validators: Vec<Path>,
    /// `model = Type`: a model form over that model (its fields are the model's of the same
    /// names).
    pub model: Option<Type>,
    pub fields: Vec<FieldDesc>,
}

pub(crate) struct FieldDesc {
    pub ident: Ident,
    pub ty: Type,
    pub label: String,
    /// `widget = "textarea"`, as the `Widget` variant's name.
    pub widget: Option<Ident>,
    pub max_length: Option<usize>,
    pub min_length: Option<usize>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub choices: Vec<(String, String)>,
    pub email: bool,
    pub help_text: String,
}

const WIDGETS: [(&str, &str); 10] = [
    ("text", "Text"),
    ("email", "Email"),
    ("password", "Password"),
    ("number", "Number"),
    ("checkbox", "Checkbox"),
    ("textarea", "Textarea"),
    ("select", "Select"),
    ("date", "Date"),
    ("file", "File"),
    ("hidden", "Hidden"),
];

impl FormDesc {
    pub(crate) fn parse(input: syn::DeriveInput) -> syn::Result<Self> {
        if !input.generics.params.is_empty() {
            return Err(Message::FormGenerics.spanned(&input.generics));
        }
        let syn::Data::Struct(data) = &input.data else {
            return Err(Message::FormNotStruct.spanned(&input.ident));
        };
        let syn::Fields::Named(named) = &data.fields else {
            return Err(Message::FormFieldsNotNamed.spanned(&input.ident));
        };
        let mut desc = FormDesc {
            ident: input.ident.clone(),
            krate: syn::parse_quote!(::canter::pages),
            validators: Vec::new(),
            model: None,
            fields: Vec::new(),
        };
        for attr in input.attrs.iter().filter(|a| a.path().is_ident("form")) {
            attr.parse_nested_meta(|meta| desc.option(&meta))?;
        }
        for field in &named.named {
            desc.fields.push(FieldDesc::parse(field)?);
        }
        Ok(desc)
    }

    fn option(&mut self, meta: &ParseNestedMeta) -> syn::Result<()> {
        if meta.path.is_ident("crate") {
            self.krate = absolute(meta.value()?.parse()?);
        } else if meta.path.is_ident("validate") {
            self.validators.push(meta.value()?.parse()?);
        } else if meta.path.is_ident("model") {
            self.model = Some(meta.value()?.parse()?);
        } else {
            return Err(Message::FormOption.spanned(&meta.path));
        }
        Ok(())
    }
}

impl FieldDesc {
    fn parse(field: &syn::Field) -> syn::Result<Self> {
        let ident = field.ident.clone().expect("named fields");
        let mut desc = FieldDesc {
            label: pretty_name(&ident.to_string()),
            ident,
            ty: field.ty.clone(),
            widget: None,
            max_length: None,
            min_length: None,
            min: None,
            max: None,
            choices: Vec::new(),
            email: false,
            help_text: String::new(),
        };
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("form")) {
            attr.parse_nested_meta(|meta| desc.option(&meta))?;
        }
        Ok(desc)
    }

    fn option(&mut self, meta: &ParseNestedMeta) -> syn::Result<()> {
        let key = meta
            .path
            .get_ident()
            .map(Ident::to_string)
            .unwrap_or_default();
        match key.as_str() {
            "label" => self.label = meta.value()?.parse::<LitStr>()?.value(),
            "help_text" => self.help_text = meta.value()?.parse::<LitStr>()?.value(),
            "email" => self.email = true,
            "max_length" => {
                self.max_length = Some(meta.value()?.parse::<syn::LitInt>()?.base10_parse()?)
            }
            "min_length" => {
                self.min_length = Some(meta.value()?.parse::<syn::LitInt>()?.base10_parse()?)
            }
            "min" => self.min = Some(number(meta)?),
            "max" => self.max = Some(number(meta)?),
            "widget" => {
                let name: LitStr = meta.value()?.parse()?;
                let variant = WIDGETS
                    .iter()
                    .find(|(given, _)| *given == name.value())
                    .ok_or_else(|| Message::FormWidget.spanned(&name))?
                    .1;
                self.widget = Some(Ident::new(variant, name.span()));
            }
            "choices" => self.choices = choices(meta)?,
            _ => return Err(Message::FormFieldOption.spanned(&meta.path)),
        }
        Ok(())
    }
}

/// `min = 0`, `max = 2.5`, `min = -1`.
fn number(meta: &ParseNestedMeta) -> syn::Result<f64> {
    let expr: syn::Expr = meta.value()?.parse()?;
    let (negative, lit) = match &expr {
        syn::Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => (true, &**expr),
        other => (false, other),
    };
    let value = match lit {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => i.base10_parse::<f64>()?,
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Float(f),
            ..
        }) => f.base10_parse::<f64>()?,
        _ => return Err(Message::FormNumber.spanned(&expr)),
    };
    Ok(if negative { -value } else { value })
}

/// `choices = ["a", "b"]` (each its own label) or `choices = [("a", "Label A"), ...]`.
fn choices(meta: &ParseNestedMeta) -> syn::Result<Vec<(String, String)>> {
    let expr: syn::Expr = meta.value()?.parse()?;
    let syn::Expr::Array(array) = &expr else {
        return Err(Message::FormChoices.spanned(&expr));
    };
    let text = |e: &syn::Expr| match e {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.value()),
        _ => None,
    };
    array
        .elems
        .iter()
        .map(|element| match element {
            syn::Expr::Tuple(pair) if pair.elems.len() == 2 => {
                match (text(&pair.elems[0]), text(&pair.elems[1])) {
                    (Some(value), Some(label)) => Ok((value, label)),
                    _ => Err(Message::FormChoices.spanned(element)),
                }
            }
            other => text(other)
                .map(|value| (value.clone(), value))
                .ok_or_else(|| Message::FormChoices.spanned(other)),
        })
        .collect()
}

/// Django's `pretty_name`: `first_name` → `First name`.
fn pretty_name(name: &str) -> String {
    let spaced = name.replace('_', " ");
    let mut chars = spaced.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl FieldDesc {
    /// The `FieldSpec` of this field, in a `static`.
    pub(crate) fn spec(&self, krate: &Path) -> TokenStream {
        let (name, label, ty, help) = (
            self.ident.to_string(),
            &self.label,
            &self.ty,
            &self.help_text,
        );
        let widget = match &self.widget {
            Some(variant) => quote!(#krate::forms::Widget::#variant),
            None if self.email => quote!(#krate::forms::Widget::Email),
            None => quote!(<#ty as #krate::forms::FormValue>::WIDGET),
        };
        let option_usize = |v: Option<usize>| match v {
            Some(n) => quote!(::core::option::Option::Some(#n)),
            None => quote!(::core::option::Option::None),
        };
        let option_f64 = |v: Option<f64>| match v {
            Some(n) => quote!(::core::option::Option::Some(#n)),
            None => quote!(::core::option::Option::None),
        };
        let (max_length, min_length) =
            (option_usize(self.max_length), option_usize(self.min_length));
        let (min, max) = (option_f64(self.min), option_f64(self.max));
        let choices = self.choices.iter().map(|(v, l)| quote!((#v, #l)));
        let email = self.email;
        quote! {
            #krate::forms::FieldSpec {
                required: <#ty as #krate::forms::FormValue>::REQUIRED,
                max_length: #max_length,
                min_length: #min_length,
                min: #min,
                max: #max,
                choices: &[#(#choices),*],
                email: #email,
                help_text: #help,
                ..#krate::forms::FieldSpec::new(#name, #label, #widget)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pretty_name;

    #[test]
    fn labels_are_djangos_pretty_names() {
        assert_eq!(pretty_name("first_name"), "First name");
        assert_eq!(pretty_name("title"), "Title");
    }
}
