//! `#[activity]`, `#[connector]` and `#[connection]`: attributes on the trait impl that
//! write the registration code and apply `async_trait`.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::punctuated::Punctuated;
use syn::{Expr, ImplItem, ItemImpl, LitStr, Token};

use crate::attrs::{docs, has_attr, suggest_name, valid_name};
use crate::ctxt::Ctxt;

/// The arguments both attributes share, plus `activities(…)` and `version`.
#[derive(Default)]
struct Args {
    name: Option<LitStr>,
    description: Option<LitStr>,
    version: Option<LitStr>,
    activities: Option<Punctuated<Expr, Token![,]>>,
}

fn parse_args(cx: &Ctxt, args: TokenStream, macro_name: &str, allowed: &[&str]) -> Args {
    let mut out = Args::default();
    let parser = syn::meta::parser(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        if !allowed.contains(&key.as_str()) {
            let list = allowed
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(meta.error(format!(
                "unknown argument `{}`: #[{macro_name}] takes {list}",
                meta.path.to_token_stream()
            )));
        }
        match key.as_str() {
            "name" => out.name = Some(meta.value()?.parse()?),
            "description" => out.description = Some(meta.value()?.parse()?),
            "version" => out.version = Some(meta.value()?.parse()?),
            "activities" => {
                let content;
                syn::parenthesized!(content in meta.input);
                out.activities = Some(Punctuated::parse_terminated(&content)?);
            }
            _ => unreachable!("checked against `allowed`"),
        }
        Ok(())
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, args) {
        cx.syn_error(e);
    }
    out
}

/// Checks the name argument; returns the name to generate with.
fn check_name(cx: &Ctxt, name: Option<&LitStr>, what: &str, example: &str) -> String {
    match name {
        None => {
            cx.syn_error(syn::Error::new(
                Span::call_site(),
                format!("missing `name`: every {what} needs a machine name, like #[{what}(name = \"{example}\")]"),
            ));
            example.to_owned()
        }
        Some(lit) => {
            let value = lit.value();
            if !valid_name(&value) {
                cx.error_spanned_by(
                    lit,
                    format!(
                        "invalid {what} name `{value}`: use lower-case letters, digits, `-` and `_`, starting with a letter (try \"{}\")",
                        suggest_name(&value)
                    ),
                );
            }
            value
        }
    }
}

fn description(cx: &Ctxt, item: &ItemImpl, arg: Option<&LitStr>, what: &str) -> String {
    if let Some(lit) = arg {
        return lit.value();
    }
    docs(&item.attrs).unwrap_or_else(|| {
        cx.error_spanned_by(
            &item.self_ty,
            format!(
                "add a doc comment to this impl (or `description = \"…\"`): it becomes the {what}'s description in the manifest"
            ),
        );
        String::new()
    })
}

fn parse_impl(cx: &Ctxt, input: TokenStream, what: &str, traits: &str) -> Option<ItemImpl> {
    match syn::parse2::<ItemImpl>(input.clone()) {
        Ok(item) if item.trait_.is_some() => Some(item),
        _ => {
            cx.error_spanned_by(&input, format!("#[{what}] goes on a trait impl: {traits}"));
            None
        }
    }
}

fn trait_name(item: &ItemImpl) -> String {
    item.trait_
        .as_ref()
        .and_then(|(_, path, _)| path.segments.last())
        .map(|s| s.ident.to_string())
        .unwrap_or_default()
}

fn defines<'a>(item: &'a ItemImpl, name: &str) -> Option<&'a syn::ImplItemFn> {
    item.items.iter().find_map(|i| match i {
        ImplItem::Fn(f) if f.sig.ident == name => Some(f),
        _ => None,
    })
}

/// Reports, then drops, methods the macro writes itself (so rustc does not also
/// report a duplicate definition).
fn forbid_written(cx: &Ctxt, item: &mut ItemImpl, names: &[&str], what: &str) {
    for name in names {
        if let Some(f) = defines(item, name) {
            cx.error_spanned_by(
                &f.sig.ident,
                format!("`{name}` is written by #[{what}] from its arguments; remove it here"),
            );
        }
    }
    item.items
        .retain(|i| !matches!(i, ImplItem::Fn(f) if names.iter().any(|n| f.sig.ident == n)));
}

fn finish(mut item: ItemImpl, extra: Vec<ImplItem>) -> TokenStream {
    item.items.extend(extra);
    let async_trait = if has_attr(&item.attrs, "async_trait") {
        quote!()
    } else {
        quote!(#[::connector_sdk::__private::async_trait::async_trait])
    };
    quote!(#async_trait #item)
}

pub(crate) fn expand_activity(args: TokenStream, input: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    let args = parse_args(&cx, args, "activity", &["name", "description"]);
    let Some(mut item) = parse_impl(
        &cx,
        input,
        "activity",
        "`impl Source for T` or `impl Target for T`",
    ) else {
        return cx.check();
    };
    let role = trait_name(&item);
    let register = match role.as_str() {
        "Source" => quote!(source),
        "Target" => quote!(target),
        _ => {
            let path = &item.trait_.as_ref().expect("trait impl").1;
            cx.error_spanned_by(
                path,
                format!("#[activity] goes on `impl Source for T` or `impl Target for T`, not on an impl of `{role}`"),
            );
            // Nothing to generate for another trait: keep the impl as written.
            let errors = cx.check();
            let item = finish(item, Vec::new());
            return quote!(#item #errors);
        }
    };
    let name = check_name(&cx, args.name.as_ref(), "activity", "read");
    let description = description(&cx, &item, args.description.as_ref(), "activity");
    forbid_written(&cx, &mut item, &["info"], "activity");
    let discovery = defines(&item, "discover").is_some();
    // A source that keeps no state need not say so.
    let names_state = item
        .items
        .iter()
        .any(|i| matches!(i, ImplItem::Type(t) if t.ident == "State"));
    let mut extra_types: Vec<ImplItem> = Vec::new();
    if role == "Source" && !names_state {
        extra_types.push(syn::parse_quote! { type State = (); });
    }

    let info: ImplItem = syn::parse_quote! {
        fn info(&self) -> ::connector_sdk::ActivityInfo {
            ::connector_sdk::ActivityInfo {
                name: #name,
                description: #description,
                discovery: #discovery,
            }
        }
    };
    let errors = cx.check();
    let role_trait: syn::Ident = syn::Ident::new(
        if register.to_string() == "source" {
            "Source"
        } else {
            "Target"
        },
        Span::call_site(),
    );
    let self_ty = &item.self_ty;
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let marker = syn::Ident::new(&format!("{role_trait}Impl"), Span::call_site());
    let register_impl = quote! {
        impl #impl_generics ::connector_sdk::__private::#marker for #self_ty #where_clause {}
        impl #impl_generics ::connector_sdk::__private::Register for #self_ty #where_clause {
            type Connection = <Self as ::connector_sdk::#role_trait>::Connection;
            fn register(
                self,
                activities: ::connector_sdk::Activities<Self::Connection>,
            ) -> ::connector_sdk::Activities<Self::Connection> {
                activities.#register(self)
            }
        }
    };
    extra_types.push(info);
    let item = finish(item, extra_types);
    quote!(#item #register_impl #errors)
}

pub(crate) fn expand_connector(args: TokenStream, input: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    let args = parse_args(
        &cx,
        args,
        "connector",
        &["name", "version", "description", "activities"],
    );
    let Some(mut item) = parse_impl(&cx, input, "connector", "`impl Connector for T`") else {
        return cx.check();
    };
    if trait_name(&item) != "Connector" {
        let path = &item.trait_.as_ref().expect("trait impl").1;
        cx.error_spanned_by(path, "#[connector] goes on `impl Connector for T`");
    }
    let name = check_name(&cx, args.name.as_ref(), "connector", "email");
    let description = description(&cx, &item, args.description.as_ref(), "connector");
    forbid_written(&cx, &mut item, &["info", "activities"], "connector");
    let version = match &args.version {
        Some(v) => v.to_token_stream(),
        None => quote!(::core::env!("CARGO_PKG_VERSION")),
    };
    let activities: Vec<Expr> = match args.activities {
        Some(list) => list.into_iter().collect(),
        None => {
            cx.syn_error(syn::Error::new(
                Span::call_site(),
                "missing `activities(…)`: list the connector's sources and targets, like #[connector(name = \"email\", activities(Send, Read))]",
            ));
            Vec::new()
        }
    };
    let mut seen: Vec<String> = Vec::new();
    let mut duplicated = false;
    for expr in &activities {
        let key = expr.to_token_stream().to_string();
        if seen.contains(&key) {
            cx.error_spanned_by(expr, format!("`{key}` is listed twice in `activities(…)`"));
            duplicated = true;
        }
        seen.push(key);
    }
    // After an error in the list, register nothing so rustc adds no errors of its own.
    let activities = if duplicated { Vec::new() } else { activities };
    let extra: Vec<ImplItem> = vec![
        syn::parse_quote! {
            fn info(&self) -> ::connector_sdk::Info {
                ::connector_sdk::Info {
                    name: #name,
                    version: #version,
                    description: #description,
                }
            }
        },
        syn::parse_quote! {
            fn activities(&self) -> ::connector_sdk::Activities<Self::Connection> {
                ::connector_sdk::Activities::new()
                    #( .with(#activities) )*
            }
        },
    ];
    let errors = cx.check();
    let item = finish(item, extra);
    quote!(#item #errors)
}

pub(crate) fn expand_connection(args: TokenStream, input: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    if !args.is_empty() {
        cx.error_spanned_by(&args, "#[connection] takes no arguments");
    }
    let Some(item) = parse_impl(&cx, input, "connection", "`impl Connection for T`") else {
        return cx.check();
    };
    if trait_name(&item) != "Connection" {
        let path = &item.trait_.as_ref().expect("trait impl").1;
        cx.error_spanned_by(path, "#[connection] goes on `impl Connection for T`");
    }
    let errors = cx.check();
    let self_ty = item.self_ty.clone();
    let generics = item.generics.clone();
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    let item = finish(item, Vec::new());
    quote! {
        #item
        impl #impl_generics ::connector_sdk::__private::ConnectionImpl for #self_ty #where_clause {}
        #errors
    }
}
