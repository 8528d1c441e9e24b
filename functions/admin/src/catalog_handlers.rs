//! Handlers of the admin product and category routes (`products.create`, `products.update`).

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use shared::{
    ApiError, ApiResult, AppState,
    api::products::ProductDetail,
    auth::Permission,
    domain::catalog::{self, Category, NewCategory, NewProduct, ProductPatch, ProductRecord},
    error::ErrorBody,
    http::{AuthUser, ValidJson},
    money::Cents,
};

use crate::catalog_models::*;

fn non_blank(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

async fn detail(state: &AppState, p: &ProductRecord) -> ApiResult<Json<ProductDetail>> {
    let category = catalog::get_category(state.store.as_ref(), &p.category_id).await?;
    Ok(Json(ProductDetail::new(
        p,
        category.as_ref().map(|c| c.name.as_str()).unwrap_or(""),
    )))
}

/// Create a product; its embedding is computed with the configured embedder and stored with it.
#[utoipa::path(
    post, path = "/api/v1/admin/products", tag = "admin",
    security(("bearer" = [])),
    request_body = CreateProductRequest,
    responses(
        (status = 201, body = ProductDetail),
        (status = 403, description = "Requires products.create", body = ErrorBody),
        (status = 404, description = "Unknown category", body = ErrorBody),
        (status = 409, description = "Product code taken", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn create_product(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(req): ValidJson<CreateProductRequest>,
) -> ApiResult<(StatusCode, Json<ProductDetail>)> {
    auth.require(Permission::ProductsCreate)?;
    if req.name.trim().is_empty() {
        return Err(ApiError::invalid_field("name", "must not be blank"));
    }
    let product = catalog::create_product(
        state.store.as_ref(),
        state.embedder.as_ref(),
        NewProduct {
            name: req.name,
            code: req.code,
            brand: non_blank(req.brand),
            price: amount("price", req.price)?,
            compare_price: req
                .compare_price
                .map(|v| amount("compare_price", v))
                .transpose()?,
            description: non_blank(req.description),
            specification: req.specification,
            technical_details: req.technical_details,
            images: req.images,
            in_stock: req.in_stock,
            stock_quantity: req.stock_quantity,
            category_id: req.category_id,
            tags: req.tags.into_iter().map(|t| t.trim().to_string()).collect(),
            meta_title: non_blank(req.meta_title),
            meta_description: non_blank(req.meta_description),
            is_active: req.is_active,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, detail(&state, &product).await?))
}

/// Update a product; only the fields sent change. The embedding is recomputed when the name,
/// brand, category, tags or description change.
#[utoipa::path(
    put, path = "/api/v1/admin/products/{product_id}", tag = "admin",
    security(("bearer" = [])),
    params(("product_id" = String, Path, description = "Product id")),
    request_body = UpdateProductRequest,
    responses(
        (status = 200, body = ProductDetail),
        (status = 403, description = "Requires products.update", body = ErrorBody),
        (status = 404, description = "Unknown product or category", body = ErrorBody),
        (status = 409, description = "Product code taken", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn update_product(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(product_id): Path<String>,
    ValidJson(req): ValidJson<UpdateProductRequest>,
) -> ApiResult<Json<ProductDetail>> {
    auth.require(Permission::ProductsUpdate)?;
    if req.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(ApiError::invalid_field("name", "must not be blank"));
    }
    let patch = ProductPatch {
        name: req.name,
        code: req.code,
        brand: req.brand.map(|b| non_blank(Some(b))),
        price: req.price.map(|v| amount("price", v)).transpose()?,
        compare_price: req
            .compare_price
            .map(|v| amount("compare_price", v).map(Some))
            .transpose()?,
        description: req.description.map(|d| non_blank(Some(d))),
        specification: req.specification,
        technical_details: req.technical_details,
        images: req.images,
        in_stock: req.in_stock,
        stock_quantity: req.stock_quantity,
        category_id: req.category_id,
        tags: req
            .tags
            .map(|t| t.into_iter().map(|t| t.trim().to_string()).collect()),
        meta_title: req.meta_title.map(|t| non_blank(Some(t))),
        meta_description: req.meta_description.map(|t| non_blank(Some(t))),
        is_active: req.is_active,
    };
    let product = catalog::update_product(
        state.store.as_ref(),
        state.embedder.as_ref(),
        &product_id,
        &patch,
    )
    .await?;
    detail(&state, &product).await
}

/// Create a category (optionally under a parent). Not in spec 002, which lists categories but has
/// no route to make them; requires `products.create`.
#[utoipa::path(
    post, path = "/api/v1/admin/categories", tag = "admin",
    security(("bearer" = [])),
    request_body = CreateCategoryRequest,
    responses(
        (status = 201, body = Category),
        (status = 403, description = "Requires products.create", body = ErrorBody),
        (status = 404, description = "Unknown parent", body = ErrorBody),
        (status = 409, description = "Slug taken", body = ErrorBody),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn create_category(
    State(state): State<AppState>,
    auth: AuthUser,
    ValidJson(req): ValidJson<CreateCategoryRequest>,
) -> ApiResult<(StatusCode, Json<Category>)> {
    auth.require(Permission::ProductsCreate)?;
    let slug = req.slug.as_deref().map(catalog::slugify);
    if req.name.trim().is_empty() || (catalog::slugify(&req.name).is_empty() && slug.is_none()) {
        return Err(ApiError::invalid_field(
            "name",
            "must contain at least one letter or digit",
        ));
    }
    if slug.as_deref().is_some_and(str::is_empty) {
        return Err(ApiError::invalid_field(
            "slug",
            "must contain at least one letter or digit",
        ));
    }
    let category = catalog::create_category(
        state.store.as_ref(),
        NewCategory {
            name: req.name,
            slug,
            description: non_blank(req.description),
            parent_id: non_blank(req.parent_id),
            consumable: req.consumable,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(category)))
}

/// A validated decimal amount of a request body in cents (422 on the field otherwise).
fn amount(field: &str, v: f64) -> ApiResult<Cents> {
    Cents::from_decimal(v).map_err(|e| ApiError::invalid_field(field, e.to_string()))
}
