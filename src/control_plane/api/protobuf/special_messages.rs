//! The messages whose JSON is not their fields (Go gives them their own marshalling), read and written
//! with prost: decode.rs and encode.rs turn them into and out of their JSON forms.

/// metav1.Time and metav1.MicroTime.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// intstr.IntOrString: type 0 is an int, 1 a string.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IntOrString {
    #[prost(int64, tag = "1")]
    pub kind: i64,
    #[prost(int32, tag = "2")]
    pub int_val: i32,
    #[prost(string, tag = "3")]
    pub str_val: String,
}

/// resource.Quantity: its canonical string.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Quantity {
    #[prost(string, tag = "1")]
    pub string: String,
}

/// runtime.RawExtension and metav1.FieldsV1: JSON bytes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Raw {
    #[prost(bytes = "vec", tag = "1")]
    pub raw: Vec<u8>,
}
