module postboard/stack/lambda-rie-lite

go 1.22
