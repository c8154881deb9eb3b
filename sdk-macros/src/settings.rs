//! `#[settings]`: one attribute instead of a stack of derives.

use proc_macro2::TokenStream;
use quote::quote;
use syn::punctuated::Punctuated;
use syn::{Data, DeriveInput, Fields, Path, Token};

use crate::attrs::docs;
use crate::ctxt::Ctxt;

const DERIVED: [&str; 5] = ["Debug", "Clone", "Serialize", "Deserialize", "JsonSchema"];

pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    let allow_unknown = parse_args(&cx, args);
    let mut item: DeriveInput = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(_) => {
            cx.error_spanned_by(
                &input,
                "#[settings] goes on a struct with named fields or an enum",
            );
            return cx.check();
        }
    };
    validate(&cx, &item);
    strip_derived(&mut item);
    let deny = if allow_unknown || is_untagged(&item) || has_flatten(&item) {
        quote!()
    } else {
        quote!(#[serde(deny_unknown_fields)])
    };
    let errors = cx.check();
    quote! {
        #[derive(
            ::core::fmt::Debug,
            ::core::clone::Clone,
            ::connector_sdk::__private::serde::Serialize,
            ::connector_sdk::__private::serde::Deserialize,
            ::connector_sdk::__private::schemars::JsonSchema
        )]
        #[serde(crate = "::connector_sdk::__private::serde")]
        #deny
        #[schemars(crate = "::connector_sdk::__private::schemars")]
        #item
        #errors
    }
}

fn parse_args(cx: &Ctxt, args: TokenStream) -> bool {
    let mut allow_unknown = false;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("allow_unknown_fields") {
            allow_unknown = true;
            Ok(())
        } else {
            Err(meta.error("unknown argument: #[settings] takes only `allow_unknown_fields`"))
        }
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, args) {
        cx.syn_error(e);
    }
    allow_unknown
}

fn validate(cx: &Ctxt, item: &DeriveInput) {
    let name = &item.ident;
    if docs(&item.attrs).is_none() {
        cx.error_spanned_by(
            name,
            format!("add a doc comment to `{name}`: it becomes the description in the schema"),
        );
    }
    for attr in item.attrs.iter().filter(|a| a.path().is_ident("derive")) {
        let Ok(paths) = attr.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
        else {
            continue;
        };
        for path in paths {
            if let Some(last) = path.segments.last() {
                let ident = last.ident.to_string();
                if DERIVED.contains(&ident.as_str()) {
                    cx.error_spanned_by(
                        &path,
                        format!("`{ident}` is already derived by #[settings]; remove it here"),
                    );
                }
            }
        }
    }
    match &item.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => {
                for field in &fields.named {
                    if docs(&field.attrs).is_none() {
                        let ident = field.ident.as_ref().expect("named field");
                        cx.error_spanned_by(
                            ident,
                            format!(
                                "add a doc comment to field `{ident}`: it becomes the field's description in the schema"
                            ),
                        );
                    }
                }
            }
            Fields::Unnamed(_) | Fields::Unit => cx.error_spanned_by(
                name,
                "#[settings] needs named fields (`struct S { … }`), so that each field has a name and a description in the schema",
            ),
        },
        Data::Enum(data) => {
            for variant in &data.variants {
                if docs(&variant.attrs).is_none() {
                    let ident = &variant.ident;
                    cx.error_spanned_by(
                        ident,
                        format!(
                            "add a doc comment to variant `{ident}`: it becomes the variant's description in the schema"
                        ),
                    );
                }
                if let Fields::Named(fields) = &variant.fields {
                    for field in &fields.named {
                        if docs(&field.attrs).is_none() {
                            let ident = field.ident.as_ref().expect("named field");
                            cx.error_spanned_by(
                                ident,
                                format!(
                                    "add a doc comment to field `{ident}`: it becomes the field's description in the schema"
                                ),
                            );
                        }
                    }
                }
            }
        }
        Data::Union(u) => cx.error_spanned_by(
            u.union_token,
            "#[settings] goes on a struct with named fields or an enum, not a union",
        ),
    }
}

/// Removes derives #[settings] adds itself (already reported), so rustc does not also
/// report conflicting implementations.
fn strip_derived(item: &mut DeriveInput) {
    item.attrs.retain_mut(|attr| {
        if !attr.path().is_ident("derive") {
            return true;
        }
        let Ok(paths) = attr.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
        else {
            return true;
        };
        let kept: Punctuated<Path, Token![,]> = paths
            .into_iter()
            .filter(|p| {
                p.segments
                    .last()
                    .is_none_or(|s| !DERIVED.contains(&s.ident.to_string().as_str()))
            })
            .collect();
        if kept.is_empty() {
            return false;
        }
        *attr = syn::parse_quote!(#[derive(#kept)]);
        true
    });
}

fn serde_flag(attrs: &[syn::Attribute], flag: &str) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("serde"))
        .any(|a| {
            let mut found = false;
            let _ = a.parse_nested_meta(|meta| {
                if meta.path.is_ident(flag) {
                    found = true;
                }
                // Skip values such as `rename = "x"`.
                if meta.input.peek(Token![=]) {
                    let _: syn::Expr = meta.value()?.parse()?;
                } else if meta.input.peek(syn::token::Paren) {
                    let _ = meta.parse_nested_meta(|_| Ok(()));
                }
                Ok(())
            });
            found
        })
}

fn is_untagged(item: &DeriveInput) -> bool {
    matches!(item.data, Data::Enum(_)) && serde_flag(&item.attrs, "untagged")
}

fn has_flatten(item: &DeriveInput) -> bool {
    let fields: Vec<&syn::Field> = match &item.data {
        Data::Struct(s) => s.fields.iter().collect(),
        Data::Enum(e) => e.variants.iter().flat_map(|v| v.fields.iter()).collect(),
        Data::Union(_) => Vec::new(),
    };
    fields.iter().any(|f| serde_flag(&f.attrs, "flatten"))
}
