-- One database per service, each owned by the application role (docker-compose initdb step).
CREATE DATABASE catalog;
CREATE DATABASE learning_records;
CREATE DATABASE indicators;
CREATE DATABASE gateway;
